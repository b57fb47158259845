/// Single-precision GEMM with BLAS semantics: C = alpha * op(A) * op(B) + beta * C, row-major.
/// op(A) is m x k, op(B) is k x n. Runs the packed, cache-blocked kernels of `KernelSet.active`;
/// threads split C along its longer side. beta == 0 never reads C (it may be uninitialised).
public func sgemm(
    m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
    b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    stridedGEMM(m: m, n: n, k: k, alpha: alpha,
                a: a, aRowStride: transposeA ? 1 : lda, aColumnStride: transposeA ? lda : 1,
                b: b, bRowStride: transposeB ? 1 : ldb, bColumnStride: transposeB ? ldb : 1,
                beta: beta, rowBias: nil, c: c, ldc: ldc)
}

/// GEMM on arbitrary element strides: A(i, p) = a[i * aRowStride + p * aColumnStride],
/// B(p, j) = b[p * bRowStride + j * bColumnStride]; `rowBias[i]` (optional) is added to row i of C.
public func stridedGEMM(
    m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, aRowStride: Int, aColumnStride: Int,
    b: UnsafePointer<Float>, bRowStride: Int, bColumnStride: Int,
    beta: Float = 0, rowBias: UnsafePointer<Float>? = nil, c: UnsafeMutablePointer<Float>, ldc: Int,
    kernels: KernelSet = .active
) {
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
        for i in 0..<m {
            let row = c + i * ldc
            let bias = rowBias?[i] ?? 0
            for j in 0..<n { row[j] = (beta == 0 ? 0 : beta * row[j]) + bias }
        }
        return
    }
    let split = WorkSplit(m: m, n: n, k: k)
    Parallel.forEachChunk(split.parts, minimumChunk: 1) { parts in
        for part in parts {
            let (rows, columns) = split.range(of: part)
            BufferPool.gemmWorkspaces.withBuffer(floats: BufferPool.gemmWorkspaceFloats) { workspace in
                kernels.gemm(m: rows.count, n: columns.count, k: k, alpha: alpha,
                             a: a + rows.lowerBound * aRowStride, aRowStride: aRowStride, aColumnStride: aColumnStride,
                             b: b + columns.lowerBound * bColumnStride, bRowStride: bRowStride, bColumnStride: bColumnStride,
                             beta: beta, rowBias: rowBias.map { $0 + rows.lowerBound },
                             c: c + rows.lowerBound * ldc + columns.lowerBound, ldc: ldc, workspace: workspace)
            }
        }
    }
}

/// How a GEMM's C is cut between threads: one strip per thread along the longer side, cut at
/// micro-tile multiples, or a single part when the product is too small to pay for a thread hand-off.
struct WorkSplit {
    let m: Int, n: Int
    let parts: Int
    let alongRows: Bool

    init(m: Int, n: Int, k: Int) {
        self.m = m
        self.n = n
        alongRows = m >= n
        let flops = 2 * m * n * k
        let pieces = alongRows ? (m + 7) / 8 : (n + 31) / 32
        parts = flops < 1 << 21 || Parallel.isInsideParallelRegion ? 1 : max(1, min(Parallel.threadCount, pieces))
    }

    func range(of part: Int) -> (rows: Range<Int>, columns: Range<Int>) {
        let (extent, granule) = alongRows ? (m, 8) : (n, 32)
        let granules = (extent + granule - 1) / granule
        let start = min(extent, granules * part / parts * granule)
        let end = part == parts - 1 ? extent : min(extent, granules * (part + 1) / parts * granule)
        return alongRows ? (start..<end, 0..<n) : (0..<m, start..<end)
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
    // Many small products: one per thread at a time beats splitting each one.
    let perEntryThreaded = 2 * m * n * k >= 1 << 24 || batch < Parallel.threadCount
    Parallel.forEach(perEntryThreaded ? 1 : batch) { first in
        for index in perEntryThreaded ? 0..<batch : first..<first + 1 {
            sgemm(m: m, n: n, k: k,
                  a: a.data + index * m * k, lda: k,
                  b: b.data + (bBatch == 1 ? 0 : index * k * n), ldb: transposeB ? k : n, transposeB: transposeB,
                  c: result.data + index * m * n, ldc: n)
        }
    }
    return result
}

/// PyTorch `nn.Linear`: x [..., in] · weightᵀ ([out, in]) + bias [out].
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    linear(x, inputMajorWeight: weight.permuted([1, 0]), bias: bias)
}

/// `nn.Linear` with the weight stored input-major, [in, out] (PyTorch's [out, in] transposed): the
/// GEMM packs contiguous weight rows instead of gathering columns of a transposed matrix, which
/// dominated the cost when few tokens share one weight (an 8x8 latent has 64). Models transpose
/// once at load time and call this.
public func linear(_ x: Tensor, inputMajorWeight weight: Tensor, bias: Tensor? = nil) -> Tensor {
    let inFeatures = weight.dim(0), outFeatures = weight.dim(1)
    precondition(x.dim(-1) == inFeatures, "linear: input \(x.shape) does not match input-major weight \(weight.shape)")
    let rows = x.count / inFeatures
    let result = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [outFeatures])
    if let bias {
        for row in 0..<rows { (result.data + row * outFeatures).update(from: bias.data, count: outFeatures) }
    }
    sgemm(m: rows, n: outFeatures, k: inFeatures, a: x.data, lda: inFeatures,
          b: weight.data, ldb: outFeatures, beta: bias == nil ? 0 : 1, c: result.data, ldc: outFeatures)
    return result
}
