// Normalisation layers with PyTorch semantics (biased variance, eps inside the square root), applied
// in the algebraic form PyTorch's CPU kernels use (x * scale + shift per channel). Statistics take two
// passes (mean, then squared deviations): float lanes over short blocks, the blocks summed in Double,
// so a long row (a 720p plane) stays exact to float precision.

import BackendInterface

extension CPUBackend {
    public func groupNorm(_ p: GroupNormParameters, _ input: BackendBuffer, weight: BackendBuffer?, bias: BackendBuffer?,
                          into output: BackendBuffer) {
        let (source, target) = (floats(input), floats(output))
        let (w, b) = (weight.map(floats), bias.map(floats))
        let channelsPerGroup = p.channels / p.groups, spatial = p.spatial
        pool.forEach(p.batch * p.groups) { row in
            let offset = row * channelsPerGroup * spatial
            let (mean, inverseStd) = moments(source + offset, channelsPerGroup * spatial, epsilon: p.epsilon)
            for local in 0..<channelsPerGroup {
                let channel = (row % p.groups) * channelsPerGroup + local
                let scale = inverseStd * (w?[channel] ?? 1)
                let shift = (b?[channel] ?? 0) - mean * scale
                let start = offset + local * spatial
                scaleAndShift(source + start, target + start, spatial, scale: scale, shift: shift)
            }
        }
    }

    public func layerNorm(_ p: RowParameters, epsilon: Float, _ input: BackendBuffer, weight: BackendBuffer?,
                          bias: BackendBuffer?, into output: BackendBuffer) {
        let (source, target) = (floats(input), floats(output))
        let (w, b) = (weight.map(floats), bias.map(floats))
        let length = p.length
        pool.forEach(p.rows, minimumChunk: 16) { row in
            let (input, output) = (source + row * length, target + row * length)
            let (mean, inverseStd) = moments(input, length, epsilon: epsilon)
            let shift = -mean * inverseStd
            switch (w, b) {
            case let (w?, b?): for i in 0..<length { output[i] = (input[i] * inverseStd + shift) * w[i] + b[i] }
            case let (w?, nil): for i in 0..<length { output[i] = (input[i] * inverseStd + shift) * w[i] }
            case let (nil, b?): for i in 0..<length { output[i] = (input[i] * inverseStd + shift) + b[i] }
            case (nil, nil): scaleAndShift(input, output, length, scale: inverseStd, shift: shift)
            }
        }
    }

    public func batchNorm(_ p: BatchNormParameters, _ input: BackendBuffer, mean: BackendBuffer, variance: BackendBuffer,
                          weight: BackendBuffer?, bias: BackendBuffer?, into output: BackendBuffer) {
        let (runningMean, runningVariance) = (floats(mean), floats(variance))
        let (w, b) = (weight.map(floats), bias.map(floats))
        var scale = [Float](repeating: 1, count: p.channels), shift = [Float](repeating: 0, count: p.channels)
        for c in 0..<p.channels {
            let inverseStd = 1 / (runningVariance[c] + p.epsilon).squareRoot()
            scale[c] = inverseStd * (w?[c] ?? 1)
            shift[c] = (b?[c] ?? 0) - runningMean[c] * scale[c]
        }
        let (source, target) = (floats(input), floats(output))
        pool.forEach(p.batch * p.channels) { row in
            let c = row % p.channels
            scaleAndShift(source + row * p.spatial, target + row * p.spatial, p.spatial, scale: scale[c], shift: shift[c])
        }
    }
}

/// Sum of `(values[i] - center)` (or its square) over `count` floats.
@inline(__always)
private func deviationSum(_ values: UnsafePointer<Float>, _ count: Int, center: Float, squared: Bool) -> Double {
    let block = 1024
    let centerLanes = SIMD8<Float>(repeating: center)
    var total: Double = 0
    var start = 0
    while start < count {
        let end = min(start + block, count)
        var lanes = SIMD8<Float>()
        var i = start
        while i + 8 <= end {
            let d = UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self) - centerLanes
            lanes += squared ? d * d : d
            i += 8
        }
        var partial = lanes.sum()
        while i < end {
            let d = values[i] - center
            partial += squared ? d * d : d
            i += 1
        }
        total += Double(partial)
        start = end
    }
    return total
}

/// Mean and 1 / sqrt(biased variance + eps) of `count` floats.
@inline(__always)
private func moments(_ values: UnsafePointer<Float>, _ count: Int, epsilon: Float) -> (mean: Float, inverseStd: Float) {
    let mean = Float(deviationSum(values, count, center: 0, squared: false) / Double(count))
    let variance = deviationSum(values, count, center: mean, squared: true) / Double(count)
    return (mean, Float(1 / (variance + Double(epsilon)).squareRoot()))
}

/// target[i] = source[i] * scale + shift over `count` floats.
@inline(__always)
private func scaleAndShift(_ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>, _ count: Int,
                           scale: Float, shift: Float) {
    for i in 0..<count { target[i] = source[i] * scale + shift }
}
