// Normalisation layers with PyTorch semantics (biased variance, eps inside the square root).

import BackendInterface

/// PyTorch `group_norm`: x [N, C, ...], `groups` divides C; weight, bias [C].
public func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float) -> Tensor {
    precondition(x.rank >= 2 && groups > 0 && x.shape[1] % groups == 0,
                 "group_norm: \(x.shape) channels not divisible into \(groups) groups")
    x.requireSameDevice(weight, bias, operation: "group_norm")
    let channels = x.shape[1]
    precondition(weight.map { $0.count == channels } ?? true && bias.map { $0.count == channels } ?? true,
                 "group_norm: affine parameters for \(channels) channels expected")
    let result = Tensor(uninitializedShape: x.shape, on: x.device)
    guard result.count > 0 else { return result }
    let parameters = GroupNormParameters(batch: x.shape[0], channels: channels, spatial: x.count / (x.shape[0] * channels),
                                         groups: groups, epsilon: epsilon)
    x.backend.groupNorm(parameters, x.operand.buffer, weight: weight?.operand.buffer, bias: bias?.operand.buffer,
                        into: result.buffer)
    return result
}

/// PyTorch `instance_norm` (no running stats): per sample and channel over the spatial positions.
public func instanceNorm(_ x: Tensor, weight: Tensor? = nil, bias: Tensor? = nil, epsilon: Float = 1e-5) -> Tensor {
    groupNorm(x, groups: x.shape[1], weight: weight, bias: bias, epsilon: epsilon)
}

/// PyTorch `layer_norm` over the last dimension; weight, bias [D].
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, epsilon: Float) -> Tensor {
    x.requireSameDevice(weight, bias, operation: "layer_norm")
    let length = x.dim(-1)
    precondition(weight.map { $0.count == length } ?? true && bias.map { $0.count == length } ?? true,
                 "layer_norm: affine parameters for \(length) features expected")
    let result = Tensor(uninitializedShape: x.shape, on: x.device)
    guard result.count > 0 else { return result }
    x.backend.layerNorm(RowParameters(rows: x.count / length, length: length), epsilon: epsilon, x.operand.buffer,
                        weight: weight?.operand.buffer, bias: bias?.operand.buffer, into: result.buffer)
    return result
}

/// PyTorch `batch_norm` in inference mode: (x - runningMean) / sqrt(runningVar + eps) * weight + bias.
public func batchNorm(_ x: Tensor, runningMean: Tensor, runningVariance: Tensor,
                      weight: Tensor?, bias: Tensor?, epsilon: Float = 1e-5) -> Tensor {
    x.requireSameDevice(runningMean, runningVariance, weight, bias, operation: "batch_norm")
    let channels = x.shape[1]
    precondition([runningMean, runningVariance, weight, bias].allSatisfy { $0.map { $0.count == channels } ?? true },
                 "batch_norm: statistics for \(channels) channels expected")
    let result = Tensor(uninitializedShape: x.shape, on: x.device)
    guard result.count > 0 else { return result }
    let parameters = BatchNormParameters(batch: x.shape[0], channels: channels, spatial: x.count / (x.shape[0] * channels),
                                         epsilon: epsilon)
    x.backend.batchNorm(parameters, x.operand.buffer, mean: runningMean.operand.buffer,
                        variance: runningVariance.operand.buffer, weight: weight?.operand.buffer,
                        bias: bias?.operand.buffer, into: result.buffer)
    return result
}
