import Foundation

// Resampling with PyTorch's exact index arithmetic: interpolate (nearest, bilinear, bicubic),
// grid_sample, and average pooling. All operate on NCHW tensors.

public enum InterpolationMode: Sendable { case nearest, bilinear, bicubic }

/// The source-to-destination scale PyTorch uses: 1/scaleFactor when a factor was given, in/out otherwise.
@inline(__always)
private func resizeScale(input: Int, output: Int, factor: Double?, alignCorners: Bool) -> Float {
    if alignCorners { return output > 1 ? Float(input - 1) / Float(output - 1) : 0 }
    if let factor, factor > 0 { return Float(1 / factor) }
    return Float(input) / Float(output)
}

/// Source indices and weights along one axis: `width` taps per output coordinate, stored flat.
private final class AxisTaps {
    let width: Int
    let indices: UnsafeMutablePointer<Int>
    let weights: UnsafeMutablePointer<Float>

    init(mode: InterpolationMode, input: Int, output: Int, factor: Double?, alignCorners: Bool) {
        width = mode == .nearest ? 1 : mode == .bilinear ? 2 : 4
        indices = .allocate(capacity: max(output * width, 1))
        weights = .allocate(capacity: max(output * width, 1))
        // align_corners has no meaning for nearest (PyTorch rejects it); it never changes the scale there.
        let scale = resizeScale(input: input, output: output, factor: factor, alignCorners: alignCorners && mode != .nearest)
        for dst in 0..<output {
            let (index, weight) = (indices + dst * width, weights + dst * width)
            switch mode {
            case .nearest:
                // PyTorch 'nearest' (not 'nearest-exact'): floor(dst * scale) in float arithmetic, except
                // that an unchanged or exactly doubled size maps indices directly whatever the scale
                // factor was (a factor of 1.01 on 10 pixels is the identity, 2.05 is plain doubling).
                if output == input {
                    index[0] = dst
                } else if output == 2 * input {
                    index[0] = dst / 2
                } else {
                    index[0] = min(Int(floorf(Float(dst) * scale)), input - 1)
                }
                weight[0] = 1
            case .bilinear:
                let src = max(alignCorners ? scale * Float(dst) : scale * (Float(dst) + 0.5) - 0.5, 0)
                let i0 = min(Int(src), input - 1)
                let lambda = min(max(src - Float(i0), 0), 1)
                (index[0], index[1]) = (i0, min(i0 + 1, input - 1))
                (weight[0], weight[1]) = (1 - lambda, lambda)
            case .bicubic:
                let src = alignCorners ? scale * Float(dst) : scale * (Float(dst) + 0.5) - 0.5
                let i = Int(floorf(src))
                let t = src - Float(i)
                let a: Float = -0.75
                func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }
                func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
                // The arguments rounded as PyTorch forms them: t + 1, t, 1 - t, (1 - t) + 1.
                (weight[0], weight[1], weight[2], weight[3]) = (far(t + 1), near(t), near(1 - t), far((1 - t) + 1))
                for tap in 0..<4 { index[tap] = min(max(i - 1 + tap, 0), input - 1) }
            }
        }
    }

    deinit {
        indices.deallocate()
        weights.deallocate()
    }
}

/// PyTorch `F.interpolate` for NCHW input. Give either `size` (height, width) or `scaleFactor`.
/// Bicubic uses A = -0.75 with edge-clamped taps and no output clamp.
public func interpolate(_ x: Tensor, size: (Int, Int)? = nil, scaleFactor: Double? = nil,
                        mode: InterpolationMode, alignCorners: Bool = false) -> Tensor {
    precondition(x.rank == 4, "interpolate expects NCHW, got \(x.shape)")
    let (height, width) = (x.shape[2], x.shape[3])
    let outHeight = size?.0 ?? Int(floor(Double(height) * (scaleFactor ?? 1)))
    let outWidth = size?.1 ?? Int(floor(Double(width) * (scaleFactor ?? 1)))
    let factor = size == nil ? scaleFactor : nil
    let rows = AxisTaps(mode: mode, input: height, output: outHeight, factor: factor, alignCorners: alignCorners)
    let columns = AxisTaps(mode: mode, input: width, output: outWidth, factor: factor, alignCorners: alignCorners)
    let planes = x.shape[0] * x.shape[1]
    let result = Tensor(uninitializedShape: [x.shape[0], x.shape[1], outHeight, outWidth])
    let (source, target) = (x.data, result.data)
    if mode == .nearest {
        Parallel.forEach(planes * outHeight, minimumChunk: 16) { job in
            let (plane, oy) = (job / outHeight, job % outHeight)
            let inputRow = source + (plane * height + rows.indices[oy]) * width
            let output = target + job * outWidth
            for ox in 0..<outWidth { output[ox] = inputRow[columns.indices[ox]] }
        }
        return result
    }
    // Separable: every input row filtered horizontally, then the rows combined vertically. Each
    // output is the same sum of the same products as PyTorch's per-pixel loop (rows outer,
    // columns inner), so the result is unchanged, at a quarter of the work for bicubic.
    let horizontal = UnsafeMutablePointer<Float>.allocate(capacity: max(planes * height * outWidth, 1))
    defer { horizontal.deallocate() }
    let (columnTaps, rowTaps) = (columns.width, rows.width)
    Parallel.forEach(planes * height, minimumChunk: 16) { job in
        let inputRow = source + job * width
        let output = horizontal + job * outWidth
        for ox in 0..<outWidth {
            let (index, weight) = (columns.indices + ox * columnTaps, columns.weights + ox * columnTaps)
            var line: Float = 0
            for tap in 0..<columnTaps { line += weight[tap] * inputRow[index[tap]] }
            output[ox] = line
        }
    }
    Parallel.forEach(planes * outHeight, minimumChunk: 16) { job in
        let (plane, oy) = (job / outHeight, job % outHeight)
        let filtered = horizontal + plane * height * outWidth
        let output = target + job * outWidth
        let (index, weight) = (rows.indices + oy * rowTaps, rows.weights + oy * rowTaps)
        let first = filtered + index[0] * outWidth
        for ox in 0..<outWidth { output[ox] = weight[0] * first[ox] }
        for tap in 1..<rowTaps {
            let line = filtered + index[tap] * outWidth
            let w = weight[tap]
            for ox in 0..<outWidth { output[ox] += w * line[ox] }
        }
    }
    return result
}

public enum GridSampleMode: Sendable { case bilinear, nearest }
public enum GridSamplePadding: Sendable { case zeros, border }

/// PyTorch `F.grid_sample` (2-D): input [N, C, H, W], grid [N, Ho, Wo, 2] holding normalised (x, y).
public func gridSample(_ input: Tensor, grid: Tensor, mode: GridSampleMode = .bilinear,
                       padding: GridSamplePadding = .zeros, alignCorners: Bool) -> Tensor {
    precondition(input.rank == 4 && grid.rank == 4 && grid.shape[3] == 2 && grid.shape[0] == input.shape[0],
                 "grid_sample: input \(input.shape), grid \(grid.shape)")
    let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let (outHeight, outWidth) = (grid.shape[1], grid.shape[2])
    let result = Tensor(uninitializedShape: [batch, channels, outHeight, outWidth])
    // Pixel coordinates. Border padding clamps (a NaN lands on 0, as in PyTorch's vectorised CPU
    // kernel). With zero padding, finite coordinates far outside are pulled in to just outside the
    // image, where every tap still reads zero, so the integer conversion below cannot overflow.
    func unnormalise(_ v: Float, _ size: Int) -> Float {
        let c = alignCorners ? (v + 1) / 2 * Float(size - 1) : ((v + 1) * Float(size) - 1) / 2
        switch padding {
        case .border: return c.isNaN ? 0 : min(max(c, 0), Float(size - 1))
        case .zeros: return c.isFinite ? min(max(c, -2), Float(size + 1)) : c
        }
    }
    let (source, target, coordinates) = (input.data, result.data, grid.data)
    Parallel.forEach(batch * outHeight, minimumChunk: 4) { job in
        let n = job / outHeight, oy = job % outHeight
        for ox in 0..<outWidth {
            let g = coordinates + ((n * outHeight + oy) * outWidth + ox) * 2
            let x = unnormalise(g[0], width), y = unnormalise(g[1], height)
            let outIndex = oy * outWidth + ox
            switch mode {
            case .nearest:
                // Only zero padding leaves non-finite coordinates; they sample nothing.
                let finite = x.isFinite && y.isFinite
                let ix = finite ? Int(x.rounded(.toNearestOrEven)) : -1, iy = finite ? Int(y.rounded(.toNearestOrEven)) : -1
                let inside = ix >= 0 && ix < width && iy >= 0 && iy < height
                for c in 0..<channels {
                    target[(n * channels + c) * outHeight * outWidth + outIndex] =
                        inside ? source[((n * channels + c) * height + iy) * width + ix] : 0
                }
            case .bilinear:
                // A non-finite coordinate gives NaN weights in PyTorch, so NaN out (not a silent zero).
                guard x.isFinite && y.isFinite else {
                    for c in 0..<channels { target[(n * channels + c) * outHeight * outWidth + outIndex] = .nan }
                    continue
                }
                let x0 = Int(floorf(x)), y0 = Int(floorf(y))
                let tx = x - Float(x0), ty = y - Float(y0)
                let (westInside, eastInside) = (x0 >= 0 && x0 < width, x0 + 1 >= 0 && x0 + 1 < width)
                let (northInside, southInside) = (y0 >= 0 && y0 < height, y0 + 1 >= 0 && y0 + 1 < height)
                for c in 0..<channels {
                    let plane = source + (n * channels + c) * height * width
                    // PyTorch's order: north-west, north-east, south-west, south-east.
                    var value: Float = 0
                    if northInside {
                        let row = plane + y0 * width
                        if westInside { value += row[x0] * ((1 - tx) * (1 - ty)) }
                        if eastInside { value += row[x0 + 1] * (tx * (1 - ty)) }
                    }
                    if southInside {
                        let row = plane + (y0 + 1) * width
                        if westInside { value += row[x0] * ((1 - tx) * ty) }
                        if eastInside { value += row[x0 + 1] * (tx * ty) }
                    }
                    target[(n * channels + c) * outHeight * outWidth + outIndex] = value
                }
            }
        }
    }
    return result
}

/// PyTorch `avg_pool2d` without padding, floor mode: kernel and stride per axis.
public func avgPool2d(_ x: Tensor, kernel: (Int, Int), stride: (Int, Int)? = nil) -> Tensor {
    let stride = stride ?? kernel
    let (height, width) = (x.shape[2], x.shape[3])
    let outHeight = (height - kernel.0) / stride.0 + 1, outWidth = (width - kernel.1) / stride.1 + 1
    let planes = x.shape[0] * x.shape[1]
    let result = Tensor(uninitializedShape: [x.shape[0], x.shape[1], max(outHeight, 0), max(outWidth, 0)])
    let (source, target) = (x.data, result.data)
    let inverseArea = 1 / Float(kernel.0 * kernel.1)
    Parallel.forEach(planes, minimumChunk: 4) { plane in
        let input = source + plane * height * width
        for oy in 0..<outHeight {
            for ox in 0..<outWidth {
                var sum: Float = 0
                for ky in 0..<kernel.0 {
                    for kx in 0..<kernel.1 { sum += input[(oy * stride.0 + ky) * width + ox * stride.1 + kx] }
                }
                target[(plane * outHeight + oy) * outWidth + ox] = sum * inverseArea
            }
        }
    }
    return result
}
