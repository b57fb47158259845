// Motion compensation of the previous output (SPEC section 3, steps 2 and 5): bicubic x4 of the LR
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
    public static func flowWarp(_ previous: Tensor, flow: Tensor, mode: GridSampleMode = .bilinear) -> Tensor {
        let (batch, height, width) = (previous.shape[0], previous.shape[2], previous.shape[3])
        precondition(previous.rank == 4 && flow.shape == [batch, 2, height, width],
                     "flowWarp: flow \(flow.shape) does not match frame \(previous.shape)")
        let grid = Tensor(uninitializedShape: [batch, height, width, 2])
        let spanX = Float(max(width - 1, 1)), spanY = Float(max(height - 1, 1))
        let plane = height * width
        for n in 0..<batch {
            let flowX = flow.data + n * 2 * plane, flowY = flowX + plane
            let target = grid.data + n * plane * 2
            for y in 0..<height {
                for x in 0..<width {
                    let index = y * width + x
                    target[index * 2] = 2 * (Float(x) + flowX[index]) / spanX - 1
                    target[index * 2 + 1] = 2 * (Float(y) + flowY[index]) / spanY - 1
                }
            }
        }
        return gridSample(previous, grid: grid, mode: mode, padding: .zeros, alignCorners: false)
    }
}
