import Foundation

/// Softmax over the last dimension (max-subtracted, like PyTorch).
public func softmax(_ x: Tensor) -> Tensor {
    let length = x.dim(-1)
    let result = x.copy()
    let kernels = KernelSet.active
    Parallel.forEach(x.count / max(length, 1), minimumChunk: max(1, 4096 / max(length, 1))) { row in
        kernels.softmaxRow(result.data + row * length, count: length)
    }
    return result
}

/// Scaled dot-product attention on [B, L, heads * headDim] tensors (the layout the models keep), so no
/// head permutes are needed: each head is a strided slice. Scores are computed `queryBlock` query rows
/// at a time, so memory stays O(queryBlock x Lk) per thread however long the sequence (a 57,600-token
/// self-attention never materialises its 57,600² score matrix). `causal` masks keys after the query.
/// Threads take whole (batch, head) tasks when there are enough of them, running the GEMMs inside
/// single-threaded; otherwise the tasks run in turn with threaded GEMMs.
public func multiHeadAttention(query: Tensor, key: Tensor, value: Tensor, heads: Int,
                               causal: Bool = false, queryBlock: Int = 128) -> Tensor {
    precondition(query.rank == 3 && key.rank == 3 && value.rank == 3, "attention expects [B, L, C] tensors")
    let (batch, queryLength, channels) = (query.shape[0], query.shape[1], query.shape[2])
    let keyLength = key.shape[1], valueChannels = value.shape[2]
    precondition(key.shape[0] == batch && value.shape[0] == batch && key.shape[2] == channels
                 && value.shape[1] == keyLength && channels % heads == 0 && valueChannels % heads == 0,
                 "attention shapes q \(query.shape) k \(key.shape) v \(value.shape) with \(heads) heads")
    let headDim = channels / heads, valueHeadDim = valueChannels / heads
    let scale = 1 / Float(headDim).squareRoot()
    let result = Tensor(uninitializedShape: [batch, queryLength, valueChannels])
    let block = max(1, min(queryBlock, queryLength))
    let tasks = batch * heads
    let threads = Parallel.threadCount
    let taskParallel = tasks >= 2 * threads || (tasks >= threads && tasks % threads == 0)
    Parallel.forEachChunk(taskParallel ? tasks : 1) { taskRange in
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: block * keyLength)
        let keysTransposed = UnsafeMutablePointer<Float>.allocate(capacity: headDim * keyLength)
        defer {
            scores.deallocate()
            keysTransposed.deallocate()
        }
        for task in taskParallel ? taskRange : 0..<tasks {
            let (b, h) = (task / heads, task % heads)
            let q = query.data + b * queryLength * channels + h * headDim
            let v = value.data + b * keyLength * valueChannels + h * valueHeadDim
            let out = result.data + b * queryLength * valueChannels + h * valueHeadDim
            // Kᵀ once per head: every query block then packs contiguous rows instead of a strided gather.
            transpose(key.data + b * keyLength * channels + h * headDim, rows: keyLength, columns: headDim,
                      sourceStride: channels, into: keysTransposed)
            var start = 0
            while start < queryLength {
                let rows = min(block, queryLength - start)
                sgemm(m: rows, n: keyLength, k: headDim, alpha: scale, a: q + start * channels, lda: channels,
                      b: keysTransposed, ldb: keyLength, c: scores, ldc: keyLength)
                Parallel.forEach(rows, minimumChunk: 16) { row in
                    let line = scores + row * keyLength
                    let firstMasked = start + row + 1
                    if causal && firstMasked < keyLength {
                        (line + firstMasked).update(repeating: -.infinity, count: keyLength - firstMasked)
                    }
                    KernelSet.active.softmaxRow(line, count: keyLength)
                }
                sgemm(m: rows, n: valueHeadDim, k: keyLength, a: scores, lda: keyLength, b: v, ldb: valueChannels,
                      c: out + start * valueChannels, ldc: valueChannels)
                start += rows
            }
        }
    }
    return result
}

/// `rows x columns` (rows `sourceStride` apart) to `columns x rows` contiguous, in 16-row strips so
/// both sides stay in cache lines that are reused.
private func transpose(_ source: UnsafePointer<Float>, rows: Int, columns: Int, sourceStride: Int,
                       into target: UnsafeMutablePointer<Float>) {
    var strip = 0
    while strip < rows {
        let height = min(16, rows - strip)
        for column in 0..<columns {
            let out = target + column * rows + strip
            let first = source + strip * sourceStride + column
            for row in 0..<height { out[row] = first[row * sourceStride] }
        }
        strip += height
    }
}
