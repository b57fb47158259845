// Bicubic x4 and the reference flow_warp against PyTorch (fixture from tools/fixtures/gen_raft.py).

import StreamDiffVSR
import TensorEngine
import TestSupport
import XCTest

final class MotionCompensationTests: XCTestCase {
    func testBicubicUpscaleMatchesInterpolate() throws {
        let fixture = try Fixture("motion_compensation", in: .module)
        try forEachDevice { device in
            let upscaled = MotionCompensation.bicubicUpscale(try fixture.tensor("lr", on: device))
            assertClose(upscaled, try fixture["upscaled"], tolerance: 1e-6, "bicubic x4")
            // Overshoot is kept (no clamp): the reference feeds RAFT values outside [-1, 1].
            XCTAssert(try upscaled.scalars.contains { abs($0) > 1 }, "fixture should exercise overshoot")
        }
    }

    func testFlowWarpCopiesTheGridQuirk() throws {
        let fixture = try Fixture("motion_compensation", in: .module)
        try forEachDevice { device in
            let (previous, flow) = (try fixture.tensor("previous", on: device), try fixture.tensor("flow", on: device))
            assertClose(MotionCompensation.flowWarp(previous, flow: flow), try fixture["warped_bilinear"],
                        tolerance: 1e-5, "bilinear")
            assertClose(MotionCompensation.flowWarp(previous, flow: flow, mode: .nearest), try fixture["warped_nearest"],
                        tolerance: 1e-5, "nearest")
            let warpedByZero = MotionCompensation.flowWarp(previous, flow: Tensor(zeros: flow.shape, on: device))
            assertClose(warpedByZero, try fixture["warped_zero_flow"], tolerance: 1e-5, "zero flow")
            XCTAssertGreaterThan(try maxAbsoluteDifference(warpedByZero, previous), 1e-2, "zero flow is not an identity warp")
        }
    }

    func testFlowWarpOfASingleRowFrame() throws {
        let fixture = try Fixture("motion_compensation", in: .module)
        try forEachDevice { device in
            assertClose(MotionCompensation.flowWarp(try fixture.tensor("thin_frame", on: device), flow: try fixture.tensor("thin_flow", on: device)),
                        try fixture["thin_warped"], tolerance: 1e-5, "1-row frame (max(H - 1, 1))")
        }
    }
}
