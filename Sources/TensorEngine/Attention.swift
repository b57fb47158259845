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
/// Threads take whole (batch, head, query block) tasks, each running its two GEMMs single-threaded.
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
    let blocksPerHead = (queryLength + block - 1) / block
    let tasks = batch * heads * blocksPerHead
    let kernels = KernelSet.active
    // Too few tasks to keep every core busy: run them one after another with threaded GEMMs instead.
    let taskParallel = tasks >= 2 * Parallel.threadCount
    Parallel.forEachChunk(taskParallel ? tasks : 1) { taskRange in
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: block * keyLength)
        defer { scores.deallocate() }
        for task in taskParallel ? taskRange : 0..<tasks {
            let b = task / (heads * blocksPerHead)
            let h = (task / blocksPerHead) % heads
            let start = (task % blocksPerHead) * block
            let rows = min(block, queryLength - start)
            let q = query.data + (b * queryLength + start) * channels + h * headDim
            let k = key.data + b * keyLength * channels + h * headDim
            let v = value.data + b * keyLength * valueChannels + h * valueHeadDim
            let out = result.data + (b * queryLength + start) * valueChannels + h * valueHeadDim
            sgemm(m: rows, n: keyLength, k: headDim, alpha: scale, a: q, lda: channels,
                  b: k, ldb: channels, transposeB: true, c: scores, ldc: keyLength)
            for row in 0..<rows {
                let line = scores + row * keyLength
                let firstMasked = start + row + 1
                if causal && firstMasked < keyLength {
                    (line + firstMasked).update(repeating: -.infinity, count: keyLength - firstMasked)
                }
                kernels.softmaxRow(line, count: keyLength)
            }
            sgemm(m: rows, n: valueHeadDim, k: keyLength, a: scores, lda: keyLength, b: v, ldb: valueChannels,
                  c: out, ldc: valueChannels)
        }
    }
    return result
}
