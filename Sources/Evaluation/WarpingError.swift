import Media
import StreamDiffVSR
import TensorEngine

/// Temporal consistency as the original repository measures it (`warp_error` in util/flow_utils.py, the
/// E_warp of Lai et al. 2018): the flow between two consecutive REFERENCE frames (RAFT, current ->
/// previous, and back) warps the previous OUTPUT frame onto the current one; the error is the mean
/// squared difference, over pixels the forward/backward check finds unoccluded, of RGB values in [0, 1].
/// The warp is the original's `flow_warp`, including its grid quirk (MotionCompensation.flowWarp).
/// RAFT sees the reference frames in [-1, 1], as torchvision's RAFT transforms prepare them.
public enum WarpingError {
    /// Flow from `image1` to `image2` ([1, 3, H, W] in [-1, 1]) as [1, 2, H, W] pixels: RAFT's last estimate.
    public typealias FlowEstimator = (_ image1: Tensor, _ image2: Tensor) -> Tensor

    /// The error of one output frame pair; flows and warps run on `device` (where `flow` computes).
    public static func error(current: RGBImage, previous: RGBImage, currentReference: RGBImage, previousReference: RGBImage,
                             on device: Device, flow: FlowEstimator) throws -> Double {
        let reference = (current: Tensor(rgb8: currentReference.pixels, width: currentReference.width, height: currentReference.height, on: device),
                         previous: Tensor(rgb8: previousReference.pixels, width: previousReference.width, height: previousReference.height, on: device))
        let forward = flow(reference.current, reference.previous)
        let backward = flow(reference.previous, reference.current)
        return try error(current: tensor(current, on: device), previous: tensor(previous, on: device), forward: forward, backward: backward)
    }

    /// The error from given flows; `current` and `previous` are output frames [1, 3, H, W] in [0, 1].
    static func error(current: Tensor, previous: Tensor, forward: Tensor, backward: Tensor) throws -> Double {
        let (height, width) = (current.shape[2], current.shape[3])
        let plane = height * width
        let warped = try MotionCompensation.flowWarp(previous, flow: forward).scalars
        let mask = unoccluded(forward: try forward.scalars, warpedBackward: try MotionCompensation.flowWarp(backward, flow: forward).scalars,
                              height: height, width: width)
        let frame = try current.scalars
        var sum = 0.0
        for channel in 0..<3 {
            for index in 0..<plane where mask[index] {
                let difference = frame[channel * plane + index] - warped[channel * plane + index]
                sum += Double(difference * difference)
            }
        }
        let valid = mask.reduce(0) { $0 + ($1 ? 1 : 0) }
        return sum / (Double(valid * 3) + 1e-10)
    }

    /// The original's `detect_occlusion` (float32): a pixel is occluded where the forward flow and the
    /// backward flow warped by it do not cancel (|f + b|^2 > 0.01 (|f|^2 + |b|^2) + 0.5), or on a motion
    /// boundary of the forward flow (|grad f|^2 > 0.01 |f|^2 + 0.002, forward differences, 0 at the last
    /// row and column).
    static func unoccluded(forward: [Float], warpedBackward: [Float], height: Int, width: Int) -> [Bool] {
        let plane = height * width
        var mask = [Bool](repeating: true, count: plane)
        for y in 0..<height {
            for x in 0..<width {
                let index = y * width + x
                let (fx, fy) = (forward[index], forward[plane + index])
                let (bx, by) = (warpedBackward[index], warpedBackward[plane + index])
                let (sx, sy) = (bx + fx, by + fy)
                let forwardMagnitude = fx * fx + fy * fy
                let inconsistent = sx * sx + sy * sy > 0.01 * ((bx * bx + by * by) + forwardMagnitude) + 0.5
                let right = x + 1 < width ? index + 1 : nil, below = y + 1 < height ? index + width : nil
                let dxu = right.map { fx - forward[$0] } ?? 0, dxv = below.map { fx - forward[$0] } ?? 0
                let dyu = right.map { fy - forward[plane + $0] } ?? 0, dyv = below.map { fy - forward[plane + $0] } ?? 0
                let boundary = (dxu * dxu + dxv * dxv) + (dyu * dyu + dyv * dyv) > 0.01 * forwardMagnitude + 0.002
                mask[index] = !(inconsistent || boundary)
            }
        }
        return mask
    }

    /// [1, 3, H, W] float32 in [0, 1] from 8-bit RGB (x / 255).
    static func tensor(_ image: RGBImage, on device: Device) -> Tensor {
        let plane = image.width * image.height
        var scalars = [Float](repeating: 0, count: plane * 3)
        for index in 0..<plane {
            for channel in 0..<3 { scalars[channel * plane + index] = Float(image.pixels[index * 3 + channel]) / 255 }
        }
        return Tensor(shape: [1, 3, image.height, image.width], scalars: scalars, on: device)
    }
}
