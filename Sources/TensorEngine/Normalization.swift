// Normalisation layers with PyTorch semantics (biased variance, eps inside the square root), applied
// in the algebraic form PyTorch's CPU kernels use (x * scale + shift per channel). Statistics take two
// passes (mean, then squared deviations): float lanes over short blocks, the blocks summed in Double,
// so a long row (a 720p plane) stays exact to float precision.

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

/// Normalises each [channels x spatial] slab of `groupCount` groups per sample, with per-channel
/// affine parameters (group norm; instance norm is one channel per group).
private func normaliseGroups(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float) -> Tensor {
    let batch = x.shape[0], channels = x.shape[1]
    let spatial = x.count / max(batch * channels, 1)
    let channelsPerGroup = channels / groups
    let result = Tensor(uninitializedShape: x.shape)
    let (source, target) = (x.data, result.data)
    let (w, b) = (weight?.data, bias?.data)
    Parallel.forEach(batch * groups) { row in
        let offset = row * channelsPerGroup * spatial
        let (mean, inverseStd) = moments(source + offset, channelsPerGroup * spatial, epsilon: epsilon)
        for local in 0..<channelsPerGroup {
            let channel = (row % groups) * channelsPerGroup + local
            let scale = inverseStd * (w?[channel] ?? 1)
            let shift = (b?[channel] ?? 0) - mean * scale
            let start = offset + local * spatial
            scaleAndShift(source + start, target + start, spatial, scale: scale, shift: shift)
        }
    }
    return result
}

/// PyTorch `group_norm`: x [N, C, ...], `groups` divides C; weight, bias [C].
public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float) -> Tensor {
    precondition(x.shape[1] % groups == 0, "group_norm: \(x.shape[1]) channels not divisible into \(groups) groups")
    return normaliseGroups(x, groups: groups, weight: weight, bias: bias, epsilon: epsilon)
}

/// PyTorch `instance_norm` (no running stats): per sample and channel over the spatial positions.
public func instanceNorm(_ x: Tensor, weight: Tensor? = nil, bias: Tensor? = nil, epsilon: Float = 1e-5) -> Tensor {
    normaliseGroups(x, groups: x.shape[1], weight: weight, bias: bias, epsilon: epsilon)
}

/// PyTorch `layer_norm` over the last dimension; weight, bias [D].
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, epsilon: Float) -> Tensor {
    let length = x.dim(-1)
    let result = Tensor(uninitializedShape: x.shape)
    let (source, target) = (x.data, result.data)
    let (w, b) = (weight?.data, bias?.data)
    Parallel.forEach(x.count / max(length, 1), minimumChunk: 16) { row in
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
    return result
}

/// PyTorch `batch_norm` in inference mode: (x - runningMean) / sqrt(runningVar + eps) * weight + bias.
public func batchNorm(_ x: Tensor, runningMean: Tensor, runningVariance: Tensor,
                      weight: Tensor?, bias: Tensor?, epsilon: Float = 1e-5) -> Tensor {
    let channels = x.shape[1]
    let spatial = x.count / max(x.shape[0] * channels, 1)
    var scale = [Float](repeating: 1, count: channels), shift = [Float](repeating: 0, count: channels)
    for c in 0..<channels {
        let inverseStd = 1 / (runningVariance.data[c] + epsilon).squareRoot()
        scale[c] = inverseStd * (weight?.data[c] ?? 1)
        shift[c] = (bias?.data[c] ?? 0) - runningMean.data[c] * scale[c]
    }
    let result = Tensor(uninitializedShape: x.shape)
    let (source, target) = (x.data, result.data)
    Parallel.forEach(x.shape[0] * channels) { row in
        let c = row % channels
        scaleAndShift(source + row * spatial, target + row * spatial, spatial, scale: scale[c], shift: shift[c])
    }
    return result
}
