import Foundation

/// Softmax over the last dimension (max-subtracted, like PyTorch).
public func softmax(_ x: Tensor) -> Tensor {
    let length = x.dim(-1)
    let result = x.copy()
    Parallel.forEach(x.count / max(length, 1), minimumChunk: 16) { row in
        softmaxRow(result.data + row * length, length)
    }
    return result
}

@inline(__always)
func softmaxRow(_ row: UnsafeMutablePointer<Float>, _ length: Int) {
    var maximum = -Float.infinity
    for i in 0..<length { maximum = max(maximum, row[i]) }
    var sum: Float = 0
    for i in 0..<length {
        let e = Foundation.exp(row[i] - maximum)
        row[i] = e
        sum += e
    }
    let inverse = 1 / sum
    for i in 0..<length { row[i] *= inverse }
}

/// Scaled dot-product attention on [B, L, heads * headDim] tensors (the layout the models keep), so no
/// head permutes are needed: each head is a strided slice. Scores are computed `queryBlock` query rows
/// at a time, so memory stays O(queryBlock x Lk) however long the sequence (a 57,600-token
/// self-attention never materialises its 57,600² score matrix). `causal` masks keys after the query.
public func multiHeadAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int,
                               causal: Bool = false, queryBlock: Int = 256) -> Tensor {
    precondition(query.rank == 3 && key.rank == 3 && value.rank == 3, "attention expects [B, L, C] tensors")
    let (batch, queryLength, channels) = (query.shape[0], query.shape[1], query.shape[2])
    let keyLength = key.shape[1], valueChannels = value.shape[2]
    precondition(key.shape[2] == channels && value.shape[1] == keyLength && channels % heads == 0 && valueChannels % heads == 0,
                 "attention shapes q \(query.shape) k \(key.shape) v \(value.shape) with \(heads) heads")
    let headDim = channels / heads, valueHeadDim = valueChannels / heads
    let scale = 1 / Float(headDim).squareRoot()
    let result = Tensor(uninitializedShape: [batch, queryLength, valueChannels])
    let block = max(1, min(queryBlock, queryLength))
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: block * keyLength)
    defer { scores.deallocate() }
    for b in 0..<batch {
        for h in 0..<heads {
            let q = query.data + b * queryLength * channels + h * headDim
            let k = key.data + b * keyLength * channels + h * headDim
            let v = value.data + b * keyLength * valueChannels + h * valueHeadDim
            let out = result.data + b * queryLength * valueChannels + h * valueHeadDim
            var start = 0
            while start < queryLength {
                let rows = min(block, queryLength - start)
                sgemm(m: rows, n: keyLength, k: headDim, alpha: scale,
                      a: q + start * channels, lda: channels,
                      b: k, ldb: channels, transposeB: true,
                      c: scores, ldc: keyLength)
                Parallel.forEach(rows, minimumChunk: 8) { row in
                    let line = scores + row * keyLength
                    if causal {
                        let last = start + row
                        if last + 1 < keyLength {
                            (line + last + 1).update(repeating: -.infinity, count: keyLength - last - 1)
                        }
                    }
                    softmaxRow(line, keyLength)
                }
                sgemm(m: rows, n: valueHeadDim, k: keyLength,
                      a: scores, lda: keyLength, b: v, ldb: valueChannels,
                      c: out + start * valueChannels, ldc: valueChannels)
                start += rows
            }
        }
    }
    return result
}
