// Parity of UNet2DCondition with diffusers 0.27.2 UNet2DConditionModel (fixtures: tools/fixtures/gen_unet.py).

import Checkpoints
import Foundation
import Models
import TensorEngine
import TestSupport
import XCTest

/// A UNet / ControlNet parity case: the fixture tensors plus the diffusers configs written beside them.
struct UNetParityCase {
    let fixture: Fixture
    let unetConfig: UNet2DConditionConfig
    /// Nil for UNet-only cases, whose residuals are random tensors of the skip shapes.
    let controlNetConfig: ControlNetConfig?

    init(_ name: String) throws {
        fixture = try Fixture(name, in: .module)
        unetConfig = try UNet2DConditionConfig.load(from: Self.configURL(name + "_unet"))
        controlNetConfig = try Bundle.module.url(forResource: name + "_controlnet", withExtension: "json", subdirectory: "Fixtures")
            .map { try ControlNetConfig.load(from: $0) }
    }

    static func configURL(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"),
                      "fixture \(name).json is missing")
    }

    func unet(on device: Device = .cpu) throws -> UNet2DCondition {
        let loader = WeightLoader(fixture.stateDict(prefix: "unet."), device: device)
        let model = UNet2DCondition(config: unetConfig, weights: loader)
        try loader.finish()
        return model
    }

    func controlNet(on device: Device = .cpu) throws -> ControlNet {
        let loader = WeightLoader(fixture.stateDict(prefix: "controlnet."), device: device)
        let model = ControlNet(config: try XCTUnwrap(controlNetConfig, "no ControlNet in this fixture"), weights: loader)
        try loader.finish()
        return model
    }

    var timestep: Float { get throws { try fixture["timestep"].scalars[0] } }
    var classLabels: [Int]? {
        fixture.file.entries["class_labels"] == nil ? nil : (try? fixture["class_labels"].scalars)?.map { Int($0) }
    }

    /// The ControlNet residuals diffusers computed, in UNet skip order.
    func expectedResiduals(on device: Device = .cpu) throws -> (down: [Tensor], mid: Tensor) {
        let count = fixture.file.entries.keys.filter { $0.hasPrefix("controlnet_down_") }.count
        return (try (0..<count).map { try fixture.tensor(String(format: "controlnet_down_%02d", $0), on: device) },
                try fixture.tensor("controlnet_mid", on: device))
    }
}

final class UNet2DConditionTests: XCTestCase {
    /// The golden model's structure: DownBlock2D + 3 CrossAttnDownBlock2D with two cross-attentions each,
    /// linear projections, attention_head_dim 8 read as the head count.
    func testUpscalerShapedUNetMatchesDiffusers() throws {
        try checkUNet("unet_x4")
    }

    /// Self+cross attention with conv projections, per-block heads, class embedding, two transformer
    /// layers, scale_shift, padding-0 downsampling and a 9x7 latent.
    func testMixedConfigurationOddLatentMatchesDiffusers() throws {
        try checkUNet("unet_mix")
    }

    /// Per-block layers_per_block, per-layer transformer depths (with the reverse list for the up path),
    /// no mid block, 1x1 conv_in/conv_out, time_embedding_dim, upcast_attention, a 5x6 latent.
    func testAsymmetricConfigurationMatchesDiffusers() throws {
        try checkUNet("unet_asym")
    }

    /// The parameter walk finds every checkpoint tensor once, on the loader's device.
    func testParametersListEveryCheckpointTensor() throws {
        let parity = try UNetParityCase("unet_x4")
        let stateDict = parity.fixture.stateDict(prefix: "unet.")
        let parameters = try parity.unet().parameters()
        XCTAssertEqual(parameters.count, stateDict.keys.count)
        XCTAssertEqual(parameters.reduce(0) { $0 + $1.tensor.count }, stateDict.entries.values.reduce(0) { $0 + $1.elementCount })
        XCTAssertEqual(Set(parameters.map(\.path)).count, parameters.count, "paths are unique")
        XCTAssert(parameters.contains { $0.path == "downPath.convIn.weight" }, "\(parameters.prefix(3).map(\.path))")
    }

    func testConfigMirrorsDiffusersJSON() throws {
        let config = try UNet2DConditionCase.config("unet_x4_unet")
        XCTAssertEqual(config.attentionHeadDim, .shared(8))
        XCTAssertEqual(config.onlyCrossAttention, .list([true, true, true, false]))
        XCTAssertEqual(config.transformerLayersPerBlock, .shared(.uniform(1)))
        let mixed = try UNet2DConditionCase.config("unet_mix_unet")
        XCTAssertEqual(mixed.attentionHeadDim, .list([2, 4, 4]))
        XCTAssertEqual(mixed.transformerLayersPerBlock, .list([.uniform(1), .uniform(2), .uniform(1)]))
        XCTAssertEqual(mixed.numClassEmbeds, 10)
        let asymmetric = try UNet2DConditionCase.config("unet_asym_unet")
        XCTAssertEqual(asymmetric.transformerLayersPerBlock, .list([.perLayer([1]), .perLayer([2, 1])]))
        XCTAssertEqual(asymmetric.reverseTransformerLayersPerBlock, [.perLayer([1, 2, 1]), .perLayer([2, 1])])
        XCTAssertEqual(asymmetric.layersPerBlock, .list([1, 2]))
        XCTAssertNil(asymmetric.midBlockType)
    }

    func testConfigErrorsNameTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("config.json")
        try #"{"in_channels": 4, "out_channels": 4}"#.write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try UNet2DConditionConfig.load(from: url)) { error in
            XCTAssert("\(error)".contains(url.path) && "\(error)".contains("down_block_types"), "\(error)")
        }
        var json = try String(contentsOf: UNet2DConditionCase.url("unet_x4_unet"), encoding: .utf8)
        json = json.replacingOccurrences(of: #""num_attention_heads": null"#, with: #""num_attention_heads": 4"#)
        try json.write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try UNet2DConditionConfig.load(from: url)) { error in
            XCTAssert("\(error)".contains("num_attention_heads"), "\(error)")
        }
    }

    /// On every test device: weights loaded there, inputs uploaded, nothing made on another device.
    private func checkUNet(_ name: String) throws {
        let parity = try UNetParityCase(name)
        try forEachDevice { device in
            let unet = try parity.unet(on: device)
            let sample = try parity.fixture.tensor("sample", on: device)
            let context = try parity.fixture.tensor("encoder_hidden_states", on: device)
            let timestep = try parity.timestep

            let plain = unet(sample, timestep: timestep, encoderHiddenStates: context, classLabels: parity.classLabels)
            assertClose(plain, try parity.fixture["unet_out"], tolerance: 1e-4, "\(name) UNet output")

            let residuals = try parity.expectedResiduals(on: device)
            let controlled = unet(sample, timestep: timestep, encoderHiddenStates: context,
                                  downBlockAdditionalResiduals: residuals.down, midBlockAdditionalResidual: residuals.mid,
                                  classLabels: parity.classLabels)
            assertClose(controlled, try parity.fixture["unet_out_controlled"], tolerance: 1e-4, "\(name) UNet output with residuals")
        }
    }
}

/// Config files of the UNet fixtures.
enum UNet2DConditionCase {
    static func url(_ name: String) throws -> URL { try UNetParityCase.configURL(name) }
    static func config(_ name: String) throws -> UNet2DConditionConfig { try UNet2DConditionConfig.load(from: url(name)) }
}
