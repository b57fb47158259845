// Resampling with PyTorch's exact index arithmetic: interpolate (nearest, bilinear, bicubic),
// grid_sample, and average pooling, on NCHW planes.

import BackendInterface
import Foundation

/// Source indices and weights along one axis: `width` taps per output coordinate, stored flat.
private final class AxisTaps {
    let width: Int
    let indices: UnsafeMutablePointer<Int>
    let weights: UnsafeMutablePointer<Float>

    init(mode: InterpolationMode, input: Int, output: Int, scale: Float, alignCorners: Bool) {
        width = mode == .nearest ? 1 : mode == .bilinear ? 2 : 4
        indices = .allocate(capacity: max(output * width, 1))
        weights = .allocate(capacity: max(output * width, 1))
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

extension CPUBackend {
    public func interpolate(_ p: InterpolationParameters, _ input: BackendBuffer, into output: BackendBuffer) {
        let (height, width, outHeight, outWidth) = (p.inHeight, p.inWidth, p.outHeight, p.outWidth)
        let rows = AxisTaps(mode: p.mode, input: height, output: outHeight, scale: p.scaleY, alignCorners: p.alignCorners)
        let columns = AxisTaps(mode: p.mode, input: width, output: outWidth, scale: p.scaleX, alignCorners: p.alignCorners)
        let (source, target) = (floats(input), floats(output))
        if p.mode == .nearest {
            pool.forEach(p.planes * outHeight, minimumChunk: 16) { job in
                let (plane, oy) = (job / outHeight, job % outHeight)
                let inputRow = source + (plane * height + rows.indices[oy]) * width
                let output = target + job * outWidth
                for ox in 0..<outWidth { output[ox] = inputRow[columns.indices[ox]] }
            }
            return
        }
        // Separable: every input row filtered horizontally, then the rows combined vertically. Each
        // output is the same sum of the same products as PyTorch's per-pixel loop (rows outer,
        // columns inner), so the result is unchanged, at a quarter of the work for bicubic.
        let horizontal = UnsafeMutablePointer<Float>.allocate(capacity: max(p.planes * height * outWidth, 1))
        defer { horizontal.deallocate() }
        let (columnTaps, rowTaps) = (columns.width, rows.width)
        pool.forEach(p.planes * height, minimumChunk: 16) { job in
            let inputRow = source + job * width
            let output = horizontal + job * outWidth
            for ox in 0..<outWidth {
                let (index, weight) = (columns.indices + ox * columnTaps, columns.weights + ox * columnTaps)
                var line: Float = 0
                for tap in 0..<columnTaps { line += weight[tap] * inputRow[index[tap]] }
                output[ox] = line
            }
        }
        pool.forEach(p.planes * outHeight, minimumChunk: 16) { job in
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
    }

    public func gridSample(_ p: GridSampleParameters, _ input: BackendBuffer, grid: BackendBuffer, into output: BackendBuffer) {
        let (channels, height, width, outHeight, outWidth) = (p.channels, p.inHeight, p.inWidth, p.outHeight, p.outWidth)
        let (alignCorners, padding) = (p.alignCorners, p.padding)
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
        let (source, target, coordinates) = (floats(input), floats(output), floats(grid))
        pool.forEach(p.batch * outHeight, minimumChunk: 4) { job in
            let n = job / outHeight, oy = job % outHeight
            for ox in 0..<outWidth {
                let g = coordinates + ((n * outHeight + oy) * outWidth + ox) * 2
                let x = unnormalise(g[0], width), y = unnormalise(g[1], height)
                let outIndex = oy * outWidth + ox
                switch p.mode {
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
    }

    public func avgPool2d(_ p: PoolParameters, _ input: BackendBuffer, into output: BackendBuffer) {
        let (height, width, outHeight, outWidth) = (p.height, p.width, p.outHeight, p.outWidth)
        let (source, target) = (floats(input), floats(output))
        let inverseArea = 1 / Float(p.kernelHeight * p.kernelWidth)
        pool.forEach(p.planes, minimumChunk: 4) { plane in
            let input = source + plane * height * width
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    var sum: Float = 0
                    for ky in 0..<p.kernelHeight {
                        for kx in 0..<p.kernelWidth { sum += input[(oy * p.strideY + ky) * width + ox * p.strideX + kx] }
                    }
                    target[(plane * outHeight + oy) * outWidth + ox] = sum * inverseArea
                }
            }
        }
    }
}
