// The fused operations of the Stream-DiffVSR pipeline: the DDIM update, RAFT's coordinate grid, convex
// upsampling and correlation lookups, and the flow-warp sampling grid.

import BackendInterface
import Foundation

extension CPUBackend {
    public func ddimStep(_ p: DDIMStepParameters, sample: BackendBuffer, modelOutput: BackendBuffer,
                         into output: BackendBuffer) {
        let (x, model, target) = (floats(sample), floats(modelOutput), floats(output))
        let (sqrtAlpha, sqrtBeta, clip) = (p.sqrtAlpha, p.sqrtBeta, p.clip)
        pool.forEachChunk(sample.count, minimumChunk: 1 << 14) { range in
            for i in range {
                var original: Float, epsilon: Float
                switch p.prediction {
                case .epsilon:
                    original = (x[i] - sqrtBeta * model[i]) / sqrtAlpha
                    epsilon = model[i]
                case .sample:
                    original = model[i]
                    epsilon = (x[i] - sqrtAlpha * original) / sqrtBeta
                case .vPrediction:
                    original = sqrtAlpha * x[i] - sqrtBeta * model[i]
                    epsilon = sqrtAlpha * model[i] + sqrtBeta * x[i]
                }
                if let clip { original = min(max(original, -clip), clip) }
                target[i] = p.sqrtAlphaPrevious * original + p.directionScale * epsilon
            }
        }
    }

    public func coordinateGrid(_ p: CoordinateGridParameters, into output: BackendBuffer) {
        let grid = floats(output)
        let plane = p.height * p.width
        for n in 0..<p.batch {
            let xs = grid + n * 2 * plane, ys = xs + plane
            for y in 0..<p.height {
                for x in 0..<p.width {
                    xs[y * p.width + x] = Float(x)
                    ys[y * p.width + x] = Float(y)
                }
            }
        }
    }

    public func flowSamplingGrid(_ p: FlowGridParameters, flow: BackendBuffer, into output: BackendBuffer) {
        let (flowData, grid) = (floats(flow), floats(output))
        let plane = p.height * p.width
        pool.forEach(p.batch * p.height, minimumChunk: 8) { job in
            let (n, y) = (job / p.height, job % p.height)
            let flowX = flowData + n * 2 * plane, flowY = flowX + plane
            let target = grid + n * plane * 2
            for x in 0..<p.width {
                let index = y * p.width + x
                target[index * 2] = 2 * (Float(x) + flowX[index]) / p.spanX - 1
                target[index * 2 + 1] = 2 * (Float(y) + flowY[index]) / p.spanY - 1
            }
        }
    }

    public func convexUpsample(_ p: ConvexUpsampleParameters, flow: BackendBuffer, mask: BackendBuffer,
                               into output: BackendBuffer) {
        let (height, width, factor) = (p.height, p.width, p.factor)
        let pixels = height * width
        let (flowData, maskData, result) = (floats(flow), floats(mask), floats(output))
        let outputWidth = width * factor, outputPlane = pixels * factor * factor
        pool.forEach(height, minimumChunk: 1) { y in
            var neighbours = [Float](repeating: 0, count: 2 * 9)
            var weights = [Float](repeating: 0, count: 9)
            for x in 0..<width {
                for k in 0..<9 {
                    let ny = y + k / 3 - 1, nx = x + k % 3 - 1
                    let inside = ny >= 0 && ny < height && nx >= 0 && nx < width
                    for c in 0..<2 {
                        neighbours[c * 9 + k] = inside ? Float(factor) * flowData[c * pixels + ny * width + nx] : 0
                    }
                }
                for i in 0..<factor {
                    for j in 0..<factor {
                        let maskBase = maskData + (i * factor + j) * pixels + y * width + x
                        var largest = -Float.infinity
                        for k in 0..<9 { largest = max(largest, maskBase[k * factor * factor * pixels]) }
                        var total: Float = 0
                        for k in 0..<9 {
                            weights[k] = expf(maskBase[k * factor * factor * pixels] - largest)
                            total += weights[k]
                        }
                        let outputIndex = (y * factor + i) * outputWidth + x * factor + j
                        for c in 0..<2 {
                            var sum: Float = 0
                            for k in 0..<9 { sum += weights[k] / total * neighbours[c * 9 + k] }
                            result[c * outputPlane + outputIndex] = sum
                        }
                    }
                }
            }
        }
    }

    public func correlationLookup(_ p: CorrelationLookupParameters, volumes: [BackendBuffer], coordinates: BackendBuffer,
                                  into output: BackendBuffer) {
        let planes = volumes.map(floats)
        lookup(p, coordinates: coordinates, output: output) { level, query, _, _ in
            let (levelHeight, levelWidth) = (p.levelSizes[level][0], p.levelSizes[level][1])
            let plane = planes[level] + query * levelHeight * levelWidth
            return { x, y in (x >= 0 && x < levelWidth && y >= 0 && y < levelHeight) ? plane[y * levelWidth + x] : 0 }
        }
    }

    public func correlationLookupOnDemand(_ p: CorrelationLookupParameters, queries: BackendBuffer, keys: [BackendBuffer],
                                          coordinates: BackendBuffer, into output: BackendBuffer) {
        let (queryData, keyData, channels) = (floats(queries), keys.map(floats), p.channels)
        lookup(p, coordinates: coordinates, output: output) { level, query, firstX, firstY in
            // The window's samples touch a (2r + 2)² block of grid points from (firstX, firstY); each dot
            // product is computed once. Points outside the block (only if float rounding moved a floor)
            // are computed directly.
            let (levelHeight, levelWidth) = (p.levelSizes[level][0], p.levelSizes[level][1])
            let span = 2 * p.radius + 2
            let queryVector = queryData + query * channels
            let keyVectors = keyData[level]
            func dot(_ x: Int, _ y: Int) -> Float {
                guard x >= 0 && x < levelWidth && y >= 0 && y < levelHeight else { return 0 }
                return dotProduct(queryVector, keyVectors + (y * levelWidth + x) * channels, count: channels)
            }
            var block = [Float](repeating: 0, count: span * span)
            for by in 0..<span { for bx in 0..<span { block[by * span + bx] = dot(firstX + bx, firstY + by) } }
            return { x, y in
                let bx = x - firstX, by = y - firstY
                return (bx >= 0 && bx < span && by >= 0 && by < span) ? block[by * span + bx] : dot(x, y)
            }
        }
    }

    /// The lookup shared by both forms: `reader(level, query, firstX, firstY)` gives a function returning
    /// the level's correlation of `query` with grid point (x, y), zero outside the grid.
    private func lookup(_ p: CorrelationLookupParameters, coordinates: BackendBuffer, output: BackendBuffer,
                        reader: (Int, Int, Int, Int) -> (Int, Int) -> Float) {
        let pixels = p.height * p.width
        let side = p.windowSide, window = side * side
        let (coords, result) = (floats(coordinates), floats(output))
        pool.forEachChunk(pixels, minimumChunk: 16) { range in
            var samples = [Float](repeating: 0, count: window)
            var xs = [Float](repeating: 0, count: side), ys = [Float](repeating: 0, count: side)
            for pixel in range {
                var centreX = coords[pixel], centreY = coords[pixels + pixel]
                for level in 0..<p.levelSizes.count {
                    // torchvision normalises by (size - 1) and grid_sample's CPU kernel unnormalises with
                    // (g + 1) * ((size - 1) / 2); both roundings are kept.
                    let spanX = Float(p.levelSizes[level][1] - 1), spanY = Float(p.levelSizes[level][0] - 1)
                    for d in 0..<side {
                        xs[d] = (2 * (centreX + Float(d - p.radius)) / spanX - 1 + 1) * (spanX / 2)
                        ys[d] = (2 * (centreY + Float(d - p.radius)) / spanY - 1 + 1) * (spanY / 2)
                    }
                    let value = reader(level, pixel, Int(Foundation.floor(xs[0])), Int(Foundation.floor(ys[0])))
                    for ix in 0..<side {
                        let x = xs[ix], x0 = Int(Foundation.floor(x)), tx = x - Float(x0)
                        for iy in 0..<side {
                            let y = ys[iy], y0 = Int(Foundation.floor(y)), ty = y - Float(y0)
                            samples[ix * side + iy] = value(x0, y0) * ((1 - tx) * (1 - ty)) + value(x0 + 1, y0) * (tx * (1 - ty))
                                + value(x0, y0 + 1) * ((1 - tx) * ty) + value(x0 + 1, y0 + 1) * (tx * ty)
                        }
                    }
                    let base = result + level * window * pixels + pixel
                    for k in 0..<window { base[k * pixels] = samples[k] }
                    centreX /= 2
                    centreY /= 2
                }
            }
        }
    }
}

/// Dot product of two contiguous float vectors, eight lanes at a time.
@inline(__always)
private func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= count {
        lanes += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var sum = lanes.sum()
    while i < count {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}
