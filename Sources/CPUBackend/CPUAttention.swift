import BackendInterface

extension CPUBackend {
    /// Processes query blocks, so the score buffer holds `queryBlock` rows, never the whole matrix.
    /// Threads take whole (batch, head) tasks when there are enough of them, running the GEMMs inside
    /// single-threaded; otherwise the tasks run in turn with threaded GEMMs.
    public func attention(_ p: AttentionParameters, query: BackendBuffer, key: BackendBuffer, value: BackendBuffer,
                          into output: BackendBuffer) {
        let (queryData, keyData, valueData, result) = (floats(query), floats(key), floats(value), floats(output))
        let (queryLength, keyLength, channels, valueChannels) = (p.queryLength, p.keyLength, p.channels, p.valueChannels)
        let headDim = channels / p.heads, valueHeadDim = valueChannels / p.heads
        let block = max(1, min(128, queryLength))
        let tasks = p.batch * p.heads
        let threads = pool.threads
        let taskParallel = tasks >= 2 * threads || (tasks >= threads && tasks % threads == 0)
        let softmaxRow = kernels.softmaxRow
        pool.forEachChunk(taskParallel ? tasks : 1) { taskRange in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: block * keyLength)
            let keysTransposed = UnsafeMutablePointer<Float>.allocate(capacity: headDim * keyLength)
            defer {
                scores.deallocate()
                keysTransposed.deallocate()
            }
            for task in taskParallel ? taskRange : 0..<tasks {
                let (b, h) = (task / p.heads, task % p.heads)
                let q = queryData + b * queryLength * channels + h * headDim
                let v = valueData + b * keyLength * valueChannels + h * valueHeadDim
                let out = result + b * queryLength * valueChannels + h * valueHeadDim
                // Kᵀ once per head: every query block then packs contiguous rows instead of a strided gather.
                transpose(keyData + b * keyLength * channels + h * headDim, rows: keyLength, columns: headDim,
                          sourceStride: channels, into: keysTransposed)
                var start = 0
                while start < queryLength {
                    let rows = min(block, queryLength - start)
                    sgemm(m: rows, n: keyLength, k: headDim, alpha: p.scale, a: q + start * channels, lda: channels,
                          b: keysTransposed, ldb: keyLength, c: scores, ldc: keyLength)
                    pool.forEach(rows, minimumChunk: 16) { row in
                        let line = scores + row * keyLength
                        let firstMasked = start + row + 1
                        if p.causal && firstMasked < keyLength {
                            (line + firstMasked).update(repeating: -.infinity, count: keyLength - firstMasked)
                        }
                        softmaxRow(line, keyLength)
                    }
                    sgemm(m: rows, n: valueHeadDim, k: keyLength, a: scores, lda: keyLength, b: v, ldb: valueChannels,
                          c: out + start * valueChannels, ldc: valueChannels)
                    start += rows
                }
            }
        }
    }

    /// Softmax over each row (max-subtracted, like PyTorch).
    public func softmax(_ p: RowParameters, _ input: BackendBuffer, into output: BackendBuffer) {
        let (source, target) = (floats(input), floats(output))
        target.update(from: source, count: p.rows * p.length)
        let softmaxRow = kernels.softmaxRow
        pool.forEach(p.rows, minimumChunk: max(1, 4096 / max(p.length, 1))) { row in
            softmaxRow(target + row * p.length, p.length)
        }
    }
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
