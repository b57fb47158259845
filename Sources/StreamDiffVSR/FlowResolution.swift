// Where the optical flow of the temporal guidance is computed (docs/algorithm.md, step 5).

import Models
import TensorEngine

/// `hr` is the original: RAFT on the 4x bicubic frames. `lr` is what the StreamDiffVSR-MPS fork does:
/// RAFT on the LR frames, the flow then resized 4x (bilinear, align_corners False) and its vectors
/// multiplied by 4. RAFT then sees 16x fewer pixels: much faster and smaller, but not identical.
public enum FlowResolution: String, Sendable, CaseIterable {
    case hr, lr

    /// What the flow network sees of a frame ([1, 3, h, w] in [-1, 1]); the session keeps it for the next frame.
    func flowInput(_ lowResolution: Tensor, scale: Int) -> Tensor {
        switch self {
        case .hr: return MotionCompensation.bicubicUpscale(lowResolution, factor: scale)
        case .lr: return lowResolution
        }
    }

    /// Flow from the current frame to the previous one at output resolution, in output pixels.
    func flow(_ network: RAFT, current: Tensor, previous: Tensor, iterations: Int, scale: Int) -> Tensor {
        let flow = network(image1: current, image2: previous, iterations: iterations)
        switch self {
        case .hr: return flow
        case .lr: return interpolate(flow, scaleFactor: Double(scale), mode: .bilinear, alignCorners: false) * Float(scale)
        }
    }
}
