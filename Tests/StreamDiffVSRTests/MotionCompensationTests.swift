// Bicubic x4 and the reference flow_warp against PyTorch (fixture from tools/fixtures/gen_raft.py).

import StreamDiffVSR
import TensorEngine
import TestSupport
import XCTest

final class MotionCompensationTests: XCTestCase {
    func testBicubicUpscaleMatchesInterpolate() throws {
        let fixture = try Fixture("motion_compensation", in: .module)
        let upscaled = MotionCompensation.bicubicUpscale(try fixture["lr"])
        assertClose(upscaled, try fixture["upscaled"], tolerance: 1e-6, "bicubic x4")
        // Overshoot is kept (no clamp): the reference feeds RAFT values outside [-1, 1].
        XCTAssert(upscaled.scalars.contains { abs($0) > 1 }, "fixture should exercise overshoot")
    }

    func testFlowWarpCopiesTheGridQuirk() throws {
        let fixture = try Fixture("motion_compensation", in: .module)
        let (previous, flow) = (try fixture["previous"], try fixture["flow"])
        assertClose(MotionCompensation.flowWarp(previous, flow: flow), try fixture["warped_bilinear"],
                    tolerance: 1e-5, "bilinear")
        assertClose(MotionCompensation.flowWarp(previous, flow: flow, mode: .nearest), try fixture["warped_nearest"],
                    tolerance: 1e-5, "nearest")
        let zeroFlow = Tensor(zeros: flow.shape)
        let warpedByZero = MotionCompensation.flowWarp(previous, flow: zeroFlow)
        assertClose(warpedByZero, try fixture["warped_zero_flow"], tolerance: 1e-5, "zero flow")
        XCTAssertGreaterThan(maxAbsoluteDifference(warpedByZero, previous), 1e-2, "zero flow is not an identity warp")
    }

    func testFlowWarpOfASingleRowFrame() throws {
        let fixture = try Fixture("motion_compensation", in: .module)
        assertClose(MotionCompensation.flowWarp(try fixture["thin_frame"], flow: try fixture["thin_flow"]),
                    try fixture["thin_warped"], tolerance: 1e-5, "1-row frame (max(H - 1, 1))")
    }
}
