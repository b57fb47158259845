// Matrix products, convolution and attention.

import BackendInterface

/// Batched matrix product over the leading dimensions: [..., m, k] x [..., k, n] -> [..., m, n]
/// (`transposeA`: a is [..., k, m]; `transposeB`: b is [..., n, k]). A rank-2 `b` is shared by every
/// batch entry. `alpha` scales the product.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false, alpha: Float = 1) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul needs rank >= 2, got \(a.shape) and \(b.shape)")
    a.requireSameDevice(b, operation: "matmul")
    let m = transposeA ? a.dim(-1) : a.dim(-2), k = transposeA ? a.dim(-2) : a.dim(-1)
    let n = transposeB ? b.dim(-2) : b.dim(-1)
    precondition((transposeB ? b.dim(-1) : b.dim(-2)) == k, "matmul shapes \(a.shape) x \(b.shape) do not agree")
    let batch = a.count / max(m * k, 1)
    let bBatch = b.count / max(b.dim(-2) * b.dim(-1), 1)
    precondition(bBatch == 1 || bBatch == batch, "matmul batch mismatch \(a.shape) x \(b.shape)")
    let result = Tensor(uninitializedShape: Array(a.shape.dropLast(2)) + [m, n], on: a.device)
    guard result.count > 0 else { return result }
    if k == 0 {
        a.backend.fill(result.buffer, value: 0)
        return result
    }
    let (x, y) = (a.operand, b.weightOperand)
    a.backend.gemm(GEMMParameters(batch: batch, m: m, n: n, k: k, alpha: alpha, transposeA: transposeA,
                                  transposeB: transposeB, bBatchStride: bBatch == 1 ? 0 : k * n),
                   a: x.buffer, b: y.buffer, bias: nil, into: result.buffer)
    return result
}

/// PyTorch `nn.Linear`: x [..., in] · weightᵀ + bias [out], with the weight in the checkpoint's own
/// [out, in] layout (the GEMM reads it transposed, so a mapped checkpoint is used in place).
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    x.requireSameDevice(weight, bias, operation: "linear")
    let inFeatures = weight.dim(1), outFeatures = weight.dim(0)
    precondition(weight.rank == 2 && x.dim(-1) == inFeatures, "linear: input \(x.shape) does not match weight \(weight.shape)")
    precondition(bias == nil || bias!.count == outFeatures, "linear: bias \(bias!.shape) for \(outFeatures) outputs")
    let rows = x.count / max(inFeatures, 1)
    let result = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outFeatures], on: x.device)
    guard result.count > 0 else { return result }
    guard inFeatures > 0 else {
        if let bias {
            return bias.reshaped([1, outFeatures]) + Tensor(zeros: result.shape, on: x.device)
        }
        x.backend.fill(result.buffer, value: 0)
        return result
    }
    x.backend.gemm(GEMMParameters(m: rows, n: outFeatures, k: inFeatures, transposeB: true), a: x.operand.buffer,
                   b: weight.weightOperand.buffer, bias: bias?.operand.buffer, into: result.buffer)
    return result
}

/// PyTorch `conv2d` (groups 1, dilation 1, zero padding): x [N, Cin, H, W], weight [Cout, Cin, kh, kw],
/// bias [Cout] -> [N, Cout, Ho, Wo].
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil,
                   stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0)) -> Tensor {
    precondition(x.rank == 4 && weight.rank == 4, "conv2d needs 4-D input and weight, got \(x.shape), \(weight.shape)")
    x.requireSameDevice(weight, bias, operation: "conv2d")
    let parameters = Conv2dParameters(batch: x.shape[0], inChannels: x.shape[1], height: x.shape[2], width: x.shape[3],
                                      outChannels: weight.shape[0], kernelHeight: weight.shape[2], kernelWidth: weight.shape[3],
                                      strideY: stride.0, strideX: stride.1, paddingY: padding.0, paddingX: padding.1)
    precondition(weight.shape[1] == parameters.inChannels,
                 "conv2d: input has \(parameters.inChannels) channels, weight expects \(weight.shape[1])")
    precondition(bias == nil || bias!.count == parameters.outChannels, "conv2d: bias \(bias!.shape) for \(parameters.outChannels) output channels")
    precondition(stride.0 > 0 && stride.1 > 0 && padding.0 >= 0 && padding.1 >= 0, "conv2d: stride \(stride), padding \(padding)")
    precondition(x.shape[2] + 2 * padding.0 >= weight.shape[2] && x.shape[3] + 2 * padding.1 >= weight.shape[3],
                 "conv2d: kernel larger than padded input \(x.shape)")
    let result = Tensor(uninitializedShape: [parameters.batch, parameters.outChannels, parameters.outHeight, parameters.outWidth],
                        on: x.device)
    guard result.count > 0 else { return result }
    x.backend.conv2d(parameters, input: x.operand.buffer, weight: weight.weightOperand.buffer,
                     bias: bias?.operand.buffer, into: result.buffer)
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

/// Multi-head scaled dot-product attention on [B, L, C] tensors (heads split the channels):
/// softmax(q kᵀ / sqrt(C / heads)) v per head. `causal` masks keys after the query. The backend never
/// materialises the whole score matrix.
public func multiHeadAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false) -> Tensor {
    precondition(query.rank == 3 && key.rank == 3 && value.rank == 3, "attention expects [B, L, C] tensors")
    query.requireSameDevice(key, value, operation: "attention")
    let (batch, queryLength, channels) = (query.shape[0], query.shape[1], query.shape[2])
    let keyLength = key.shape[1], valueChannels = value.shape[2]
    precondition(heads > 0 && key.shape[0] == batch && value.shape[0] == batch && key.shape[2] == channels
                 && value.shape[1] == keyLength && channels % heads == 0 && valueChannels % heads == 0,
                 "attention shapes q \(query.shape) k \(key.shape) v \(value.shape) with \(heads) heads")
    let result = Tensor(uninitializedShape: [batch, queryLength, valueChannels], on: query.device)
    guard result.count > 0 else { return result }
    let parameters = AttentionParameters(batch: batch, queryLength: queryLength, keyLength: keyLength, channels: channels,
                                         valueChannels: valueChannels, heads: heads,
                                         scale: 1 / Float(channels / heads).squareRoot(), causal: causal)
    query.backend.attention(parameters, query: query.operand.buffer, key: key.operand.buffer,
                            value: value.operand.buffer, into: result.buffer)
    return result
}

/// Softmax over the last dimension (max-subtracted, like PyTorch).
public func softmax(_ x: Tensor) -> Tensor {
    let length = x.dim(-1)
    let result = Tensor(uninitializedShape: x.shape, on: x.device)
    guard result.count > 0 else { return result }
    x.backend.softmax(RowParameters(rows: x.count / length, length: length), x.operand.buffer, into: result.buffer)
    return result
}
