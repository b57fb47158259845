/// PyTorch `conv2d` (groups 1, dilation 1, zero padding): x [N, Cin, H, W], weight [Cout, Cin, kh, kw],
/// bias [Cout] -> [N, Cout, Ho, Wo]. An implicit GEMM: weight [Cout, Cin·kh·kw] times the im2col matrix,
/// whose cache-sized panels the kernels pack straight from the image (im2col is never materialised).
/// Pointwise convolutions multiply the image itself. The bias is added as the first result is stored.
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil,
                   stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0)) -> Tensor {
    conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, kernels: .active)
}

/// `conv2d` on an explicit kernel set (tests compare the sets against each other).
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int),
                   kernels: KernelSet) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4, "conv2d needs 4-D input and weight, got \(x.shape), \(weight.shape)")
    let (batch, inChannels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (outChannels, kernelHeight, kernelWidth) = (weight.shape[0], weight.shape[2], weight.shape[3])
    precondition(weight.shape[1] == inChannels, "conv2d: input has \(inChannels) channels, weight expects \(weight.shape[1])")
    precondition(bias == nil || bias!.count == outChannels, "conv2d: bias \(bias!.shape) for \(outChannels) output channels")
    let outHeight = (height + 2 * padding.0 - kernelHeight) / stride.0 + 1
    let outWidth = (width + 2 * padding.1 - kernelWidth) / stride.1 + 1
    precondition(outHeight > 0 && outWidth > 0, "conv2d: kernel larger than padded input \(x.shape)")
    if kernelHeight == 3 && kernelWidth == 3 && stride == (1, 1) && padding == (1, 1)
        && WinogradConvolution.isFaster(inChannels: inChannels, outChannels: outChannels, height: height, width: width) {
        return WinogradConvolution.convolve(x, weight: weight, bias: bias, kernels: kernels)
    }
    let result = Tensor(uninitializedShape: [batch, outChannels, outHeight, outWidth])
    let pixels = outHeight * outWidth
    let reduction = inChannels * kernelHeight * kernelWidth
    let isPointwise = kernelHeight == 1 && kernelWidth == 1 && stride == (1, 1) && padding == (0, 0)
    let biasData = bias.map { UnsafePointer($0.data) }
    for image in 0..<batch {
        let input = UnsafePointer(x.data + image * inChannels * height * width)
        let output = result.data + image * outChannels * pixels
        if isPointwise {
            stridedGEMM(m: outChannels, n: pixels, k: inChannels, a: weight.data, aRowStride: inChannels, aColumnStride: 1,
                        b: input, bRowStride: pixels, bColumnStride: 1, rowBias: biasData, c: output, ldc: pixels,
                        kernels: kernels)
            continue
        }
        let split = WorkSplit(m: outChannels, n: pixels, k: reduction)
        Parallel.forEachChunk(split.parts, minimumChunk: 1) { parts in
            for part in parts {
                let (channels, columns) = split.range(of: part)
                BufferPool.gemmWorkspaces.withBuffer(floats: BufferPool.gemmWorkspaceFloats) { workspace in
                    kernels.convolutionGEMM(
                        m: channels.count, n: columns.count, k: reduction,
                        weights: weight.data + channels.lowerBound * reduction, input: input,
                        height: height, width: width, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                        stride: stride, padding: padding, outWidth: outWidth, firstPixel: columns.lowerBound,
                        rowBias: biasData.map { $0 + channels.lowerBound },
                        c: output + channels.lowerBound * pixels + columns.lowerBound, ldc: pixels,
                        workspace: workspace)
                }
            }
        }
    }
    return result
}

/// PyTorch `conv1d` (groups 1): x [N, Cin, L], weight [Cout, Cin, k] -> [N, Cout, Lout].
public func conv1d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
    precondition(x.rank == 3 && weight.rank == 3, "conv1d needs 3-D input and weight, got \(x.shape), \(weight.shape)")
    let result = conv2d(x.reshaped([x.shape[0], x.shape[1], 1, x.shape[2]]),
                        weight: weight.reshaped([weight.shape[0], weight.shape[1], 1, weight.shape[2]]),
                        bias: bias, stride: (1, stride), padding: (0, padding))
    return result.reshaped([result.shape[0], result.shape[1], result.shape[3]])
}
