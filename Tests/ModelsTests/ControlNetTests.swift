// Parity of ControlNet with diffusers 0.27.2 ControlNetModel (fixtures: tools/fixtures/gen_unet.py).

import Models
import TensorEngine
import TestSupport
import XCTest

final class ControlNetTests: XCTestCase {
    /// ControlNetModel.from_unet of the upscaler-shaped UNet, conditioning image 4x the latent.
    func testUpscalerShapedControlNetMatchesDiffusers() throws {
        try checkControlNet("unet_x4")
    }

    /// num_attention_heads honoured, bgr channel order, conditioning_scale 0.7, 9x7 latent.
    func testMixedControlNetMatchesDiffusers() throws {
        try checkControlNet("unet_mix")
    }

    /// On every test device: weights loaded there, inputs uploaded, nothing made on another device.
    private func checkControlNet(_ name: String) throws {
        let parity = try UNetParityCase(name)
        let scale = try parity.fixture["conditioning_scale"].scalars[0]
        let expected = try parity.expectedResiduals()
        try forEachDevice { device in
            let controlNet = try parity.controlNet(on: device)
            let (down, mid) = controlNet(try parity.fixture.tensor("sample", on: device), timestep: try parity.timestep,
                                         encoderHiddenStates: try parity.fixture.tensor("encoder_hidden_states", on: device),
                                         condition: try parity.fixture.tensor("condition", on: device), conditioningScale: scale)
            XCTAssertEqual(down.count, expected.down.count, "\(name): number of down residuals")
            for (index, (actual, reference)) in zip(down, expected.down).enumerated() {
                assertClose(actual, reference, tolerance: 1e-4, "\(name) down residual \(index)")
            }
            assertClose(mid, expected.mid, tolerance: 1e-4, "\(name) mid residual")
        }
    }
}
