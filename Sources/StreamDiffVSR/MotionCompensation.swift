// Motion compensation of the previous output (docs/algorithm.md, steps 2 and 5): bicubic x4 of the LR
// frames (RAFT's inputs) and the reference pipeline's `flow_warp` of the previous decoded frame.

import TensorEngine

public enum MotionCompensation {
    /// `F.interpolate(lr, scale_factor: factor, mode: "bicubic")`: A = -0.75, align_corners = False,
    /// edge-clamped taps, result not clamped (values may leave [-1, 1]; RAFT sees them as they are).
    public static func bicubicUpscale(_ lr: Tensor, factor: Int = 4) -> Tensor {
        interpolate(lr, scaleFactor: Double(factor), mode: .bicubic, alignCorners: false)
    }

    /// Samples `previous` ([N, C, H, W]) at (x + flow_x, y + flow_y), zero outside, as the reference's
    /// `flow_warp` does it — including its quirk: the grid is normalised with 2v / max(W - 1, 1) - 1 (the
    /// align_corners=True convention) but sampled with align_corners=False, so the pixel actually read is
    /// v * W / (W - 1) - 0.5 and a zero flow is not the identity. `flow` is [N, 2, H, W] in pixels.
    public static func flowWarp(_ previous: Tensor, flow: Tensor) -> Tensor {
        flowWarp(previous, flow: flow, mode: .bilinear)
    }

    /// `flowWarp` with another sampling mode (the reference uses bilinear).
    public static func flowWarp(_ previous: Tensor, flow: Tensor, mode: GridSampleMode) -> Tensor {
        precondition(previous.rank == 4 && flow.shape == [previous.shape[0], 2, previous.shape[2], previous.shape[3]],
                     "flowWarp: flow \(flow.shape) does not match frame \(previous.shape)")
        return gridSample(previous, grid: flowSamplingGrid(flow), mode: mode, padding: .zeros, alignCorners: false)
    }
}
