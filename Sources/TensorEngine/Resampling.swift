// Resampling with PyTorch's exact index arithmetic: interpolate (nearest, bilinear, bicubic),
// grid_sample, and average pooling. All operate on NCHW tensors.

import BackendInterface
import Foundation

public typealias InterpolationMode = BackendInterface.InterpolationMode
public typealias GridSampleMode = BackendInterface.GridSampleMode
public typealias GridSamplePadding = BackendInterface.GridSamplePadding
public typealias PadMode = BackendInterface.PadMode

/// The source-to-destination scale PyTorch uses: 1/scaleFactor when a factor was given, in/out otherwise.
private func resizeScale(input: Int, output: Int, factor: Double?, alignCorners: Bool) -> Float {
    if alignCorners { return output > 1 ? Float(input - 1) / Float(output - 1) : 0 }
    if let factor, factor > 0 { return Float(1 / factor) }
    return Float(input) / Float(output)
}

/// PyTorch `F.interpolate` for NCHW input. Give either `size` (height, width) or `scaleFactor`.
/// Bicubic uses A = -0.75 with edge-clamped taps and no output clamp.
public func interpolate(_ x: Tensor, size: (Int, Int)? = nil, scaleFactor: Double? = nil,
                        mode: InterpolationMode, alignCorners: Bool = false) -> Tensor {
    precondition(x.rank == 4, "interpolate expects NCHW, got \(x.shape)")
    precondition(size != nil || scaleFactor != nil, "interpolate needs a size or a scale factor")
    let (height, width) = (x.shape[2], x.shape[3])
    let outHeight = size?.0 ?? Int(floor(Double(height) * (scaleFactor ?? 1)))
    let outWidth = size?.1 ?? Int(floor(Double(width) * (scaleFactor ?? 1)))
    precondition(outHeight >= 0 && outWidth >= 0 && (height > 0 && width > 0 || outHeight * outWidth == 0),
                 "interpolate \(x.shape) to \(outHeight)x\(outWidth)")
    let factor = size == nil ? scaleFactor : nil
    // align_corners has no meaning for nearest (PyTorch rejects it); it never changes the scale there.
    let corners = alignCorners && mode != .nearest
    let result = Tensor(uninitializedShape: [x.shape[0], x.shape[1], outHeight, outWidth], on: x.device)
    guard result.count > 0 else { return result }
    let parameters = InterpolationParameters(
        planes: x.shape[0] * x.shape[1], inHeight: height, inWidth: width, outHeight: outHeight, outWidth: outWidth,
        mode: mode, alignCorners: alignCorners,
        scaleY: resizeScale(input: height, output: outHeight, factor: factor, alignCorners: corners),
        scaleX: resizeScale(input: width, output: outWidth, factor: factor, alignCorners: corners))
    x.backend.interpolate(parameters, x.operand.buffer, into: result.buffer)
    return result
}

/// PyTorch `F.grid_sample` (2-D): input [N, C, H, W], grid [N, Ho, Wo, 2] holding normalised (x, y).
public func gridSample(_ input: Tensor, grid: Tensor, mode: GridSampleMode = .bilinear,
                       padding: GridSamplePadding = .zeros, alignCorners: Bool) -> Tensor {
    precondition(input.rank == 4 && grid.rank == 4 && grid.shape[3] == 2 && grid.shape[0] == input.shape[0],
                 "grid_sample: input \(input.shape), grid \(grid.shape)")
    input.requireSameDevice(grid, operation: "grid_sample")
    let parameters = GridSampleParameters(batch: input.shape[0], channels: input.shape[1], inHeight: input.shape[2],
                                          inWidth: input.shape[3], outHeight: grid.shape[1], outWidth: grid.shape[2],
                                          mode: mode, padding: padding, alignCorners: alignCorners)
    let result = Tensor(uninitializedShape: [parameters.batch, parameters.channels, parameters.outHeight, parameters.outWidth],
                        on: input.device)
    guard result.count > 0 else { return result }
    input.backend.gridSample(parameters, input.operand.buffer, grid: grid.operand.buffer, into: result.buffer)
    return result
}

/// PyTorch `avg_pool2d` without padding, floor mode: kernel and stride per axis.
public func avgPool2d(_ x: Tensor, kernel: (Int, Int), stride: (Int, Int)? = nil) -> Tensor {
    precondition(x.rank == 4 && kernel.0 > 0 && kernel.1 > 0, "avg_pool2d: input \(x.shape), kernel \(kernel)")
    let stride = stride ?? kernel
    let parameters = PoolParameters(planes: x.shape[0] * x.shape[1], height: x.shape[2], width: x.shape[3],
                                    kernelHeight: kernel.0, kernelWidth: kernel.1, strideY: stride.0, strideX: stride.1)
    let result = Tensor(uninitializedShape: [x.shape[0], x.shape[1], parameters.outHeight, parameters.outWidth], on: x.device)
    guard result.count > 0 else { return result }
    x.backend.avgPool2d(parameters, x.operand.buffer, into: result.buffer)
    return result
}
