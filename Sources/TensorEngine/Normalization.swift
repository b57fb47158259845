// Normalisation layers with PyTorch semantics (biased variance, eps inside the square root).
// Statistics accumulate in Double so long rows (a 720p plane) stay exact to float precision.

/// Normalises each of `count` contiguous rows of length `length` in place of `output`, then applies
/// `affine(row, index, normalised)`.
@inline(__always)
private func normaliseRows(_ input: UnsafeMutablePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                           rows: Int, length: Int, epsilon: Float,
                           _ affine: @escaping (Int, Int, Float) -> Float) {
    Parallel.forEach(rows) { row in
        let source = input + row * length, target = output + row * length
        var sum: Double = 0
        for i in 0..<length { sum += Double(source[i]) }
        let mean = sum / Double(length)
        var squares: Double = 0
        for i in 0..<length { let d = Double(source[i]) - mean; squares += d * d }
        let inverseStd = Float(1 / (squares / Double(length) + Double(epsilon)).squareRoot())
        let meanF = Float(mean)
        for i in 0..<length { target[i] = affine(row, i, (source[i] - meanF) * inverseStd) }
    }
}

/// PyTorch `group_norm`: x [N, C, ...], `groups` divides C; weight, bias [C].
public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float) -> Tensor {
    let batch = x.shape[0], channels = x.shape[1]
    precondition(channels % groups == 0, "group_norm: \(channels) channels not divisible into \(groups) groups")
    let spatial = x.count / max(batch * channels, 1)
    let channelsPerGroup = channels / groups
    let result = Tensor(uninitializedShape: x.shape)
    let w = weight?.data, b = bias?.data
    normaliseRows(x.data, result.data, rows: batch * groups, length: channelsPerGroup * spatial, epsilon: epsilon) { row, i, v in
        let channel = (row % groups) * channelsPerGroup + i / spatial
        return v * (w?[channel] ?? 1) + (b?[channel] ?? 0)
    }
    return result
}

/// PyTorch `layer_norm` over the last dimension; weight, bias [D].
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, epsilon: Float) -> Tensor {
    let length = x.dim(-1)
    let result = Tensor(uninitializedShape: x.shape)
    let w = weight?.data, b = bias?.data
    normaliseRows(x.data, result.data, rows: x.count / max(length, 1), length: length, epsilon: epsilon) { _, i, v in
        v * (w?[i] ?? 1) + (b?[i] ?? 0)
    }
    return result
}

/// PyTorch `instance_norm` (no running stats): per sample and channel over the spatial positions.
public func instanceNorm(_ x: Tensor, weight: Tensor? = nil, bias: Tensor? = nil, epsilon: Float = 1e-5) -> Tensor {
    let channels = x.shape[1]
    let spatial = x.count / max(x.shape[0] * channels, 1)
    let result = Tensor(uninitializedShape: x.shape)
    let w = weight?.data, b = bias?.data
    normaliseRows(x.data, result.data, rows: x.shape[0] * channels, length: spatial, epsilon: epsilon) { row, _, v in
        let channel = row % channels
        return v * (w?[channel] ?? 1) + (b?[channel] ?? 0)
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
        for i in 0..<spatial { target[row * spatial + i] = source[row * spatial + i] * scale[c] + shift[c] }
    }
    return result
}
