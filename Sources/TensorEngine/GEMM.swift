/// Single-precision GEMM with BLAS semantics: C = alpha * op(A) * op(B) + beta * C, row-major.
/// op(A) is m x k, op(B) is k x n. Threads split the rows of C.
public func sgemm(
    m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
    b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    guard m > 0, n > 0 else { return }
    // Bring B to k x n row-major so the inner loop streams contiguous rows.
    var packedB: UnsafeMutablePointer<Float>? = nil
    var bRows = b
    var bStride = ldb
    if transposeB {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(k * n, 1))
        for p in 0..<k { for j in 0..<n { buffer[p * n + j] = b[j * ldb + p] } }
        packedB = buffer
        bRows = UnsafePointer(buffer)
        bStride = n
    }
    defer { packedB?.deallocate() }
    Parallel.forEachChunk(m, minimumChunk: max(1, 4096 / max(n * k / 64, 1))) { rows in
        for i in rows {
            let cRow = c + i * ldc
            if beta == 0 {
                cRow.update(repeating: 0, count: n)
            } else if beta != 1 {
                for j in 0..<n { cRow[j] *= beta }
            }
            for p in 0..<k {
                let aValue = alpha * (transposeA ? a[p * lda + i] : a[i * lda + p])
                if aValue == 0 { continue }
                let bRow = bRows + p * bStride
                for j in 0..<n { cRow[j] += aValue * bRow[j] }
            }
        }
    }
}

/// Batched matrix product over the leading dimensions: [..., m, k] x [..., k, n] -> [..., m, n]
/// (`transposeB`: b is [..., n, k]). A rank-2 `b` is shared by every batch entry.
public func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul needs rank >= 2, got \(a.shape) and \(b.shape)")
    let m = a.dim(-2), k = a.dim(-1)
    let n = transposeB ? b.dim(-2) : b.dim(-1)
    precondition((transposeB ? b.dim(-1) : b.dim(-2)) == k, "matmul shapes \(a.shape) x \(b.shape) do not agree")
    let batch = a.count / max(m * k, 1)
    let bBatch = b.count / max(b.dim(-2) * b.dim(-1), 1)
    precondition(bBatch == 1 || bBatch == batch, "matmul batch mismatch \(a.shape) x \(b.shape)")
    let result = Tensor(uninitializedShape: Array(a.shape.dropLast()) + [n])
    for index in 0..<batch {
        sgemm(m: m, n: n, k: k,
              a: a.data + index * m * k, lda: k,
              b: b.data + (bBatch == 1 ? 0 : index * k * n), ldb: transposeB ? k : n, transposeB: transposeB,
              c: result.data + index * m * n, ldc: n)
    }
    return result
}

/// PyTorch `nn.Linear`: x [..., in] · weightᵀ ([out, in]) + bias [out].
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    let inFeatures = weight.dim(1), outFeatures = weight.dim(0)
    precondition(x.dim(-1) == inFeatures, "linear: input \(x.shape) does not match weight \(weight.shape)")
    let rows = x.count / inFeatures
    let result = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outFeatures])
    if let bias {
        for row in 0..<rows { (result.data + row * outFeatures).update(from: bias.data, count: outFeatures) }
    }
    sgemm(m: rows, n: outFeatures, k: inFeatures, a: x.data, lda: inFeatures,
          b: weight.data, ldb: inFeatures, transposeB: true,
          beta: bias == nil ? 0 : 1, c: result.data, ldc: outFeatures)
    return result
}
