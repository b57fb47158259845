/// PyTorch `conv2d` (groups 1, dilation 1, zero padding): x [N, Cin, H, W], weight [Cout, Cin, kh, kw],
/// bias [Cout] -> [N, Cout, Ho, Wo]. Lowered to GEMM over im2col columns.
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil,
                   stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0)) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4, "conv2d needs 4-D input and weight, got \(x.shape), \(weight.shape)")
    let (batch, inChannels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (outChannels, kernelHeight, kernelWidth) = (weight.shape[0], weight.shape[2], weight.shape[3])
    precondition(weight.shape[1] == inChannels, "conv2d: input has \(inChannels) channels, weight expects \(weight.shape[1])")
    let outHeight = (height + 2 * padding.0 - kernelHeight) / stride.0 + 1
    let outWidth = (width + 2 * padding.1 - kernelWidth) / stride.1 + 1
    precondition(outHeight > 0 && outWidth > 0, "conv2d: kernel larger than padded input \(x.shape)")
    let result = Tensor(uninitializedShape: [batch, outChannels, outHeight, outWidth])
    let pixels = outHeight * outWidth
    let reduction = inChannels * kernelHeight * kernelWidth
    let isPointwise = kernelHeight == 1 && kernelWidth == 1 && stride == (1, 1) && padding == (0, 0)
    let columns = isPointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: reduction * pixels)
    defer { columns?.deallocate() }
    for image in 0..<batch {
        let input = x.data + image * inChannels * height * width
        let output = result.data + image * outChannels * pixels
        if let columns {
            Parallel.forEach(reduction) { row in
                let channel = row / (kernelHeight * kernelWidth)
                let ky = (row / kernelWidth) % kernelHeight, kx = row % kernelWidth
                let plane = input + channel * height * width
                let columnRow = columns + row * pixels
                for oy in 0..<outHeight {
                    let iy = oy * stride.0 - padding.0 + ky
                    let target = columnRow + oy * outWidth
                    guard iy >= 0 && iy < height else {
                        target.update(repeating: 0, count: outWidth)
                        continue
                    }
                    for ox in 0..<outWidth {
                        let ix = ox * stride.1 - padding.1 + kx
                        target[ox] = (ix >= 0 && ix < width) ? plane[iy * width + ix] : 0
                    }
                }
            }
        }
        if let bias {
            for channel in 0..<outChannels { (output + channel * pixels).update(repeating: bias.data[channel], count: pixels) }
        }
        sgemm(m: outChannels, n: pixels, k: reduction, a: weight.data, lda: reduction,
              b: columns.map { UnsafePointer($0) } ?? UnsafePointer(input), ldb: pixels,
              beta: bias == nil ? 0 : 1, c: output, ldc: pixels)
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
