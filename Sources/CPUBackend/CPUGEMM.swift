import BackendInterface

extension CPUBackend {
    public func gemm(_ p: GEMMParameters, a: BackendBuffer, b: BackendBuffer, bias: BackendBuffer?,
                     into output: BackendBuffer) {
        let (aData, bData, cData) = (floats(a), floats(b), floats(output))
        let biasData = bias.map(floats)
        let (m, n, k) = (p.m, p.n, p.k)
        // Many small products: one per thread at a time beats splitting each one.
        let perEntryThreaded = 2 * m * n * k >= 1 << 24 || p.batch < pool.threads
        pool.forEach(perEntryThreaded ? 1 : p.batch) { first in
            for index in perEntryThreaded ? 0..<p.batch : first..<first + 1 {
                let c = cData + index * m * n
                if let biasData {
                    for row in 0..<m { (c + row * n).update(from: biasData, count: n) }
                }
                sgemm(m: m, n: n, k: k, alpha: p.alpha,
                      a: aData + index * p.aBatchStride, lda: p.transposeA ? m : k, transposeA: p.transposeA,
                      b: bData + index * p.bBatchStride, ldb: p.transposeB ? k : n, transposeB: p.transposeB,
                      beta: biasData == nil ? 0 : 1, c: c, ldc: n)
            }
        }
    }

    /// Single-precision GEMM with BLAS semantics: C = alpha * op(A) * op(B) + beta * C, row-major.
    /// op(A) is m x k, op(B) is k x n. beta == 0 never reads C (it may be uninitialised).
    func sgemm(m: Int, n: Int, k: Int, alpha: Float = 1,
               a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
               b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
               beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        stridedGEMM(m: m, n: n, k: k, alpha: alpha,
                    a: a, aRowStride: transposeA ? 1 : lda, aColumnStride: transposeA ? lda : 1,
                    b: b, bRowStride: transposeB ? 1 : ldb, bColumnStride: transposeB ? ldb : 1,
                    beta: beta, rowBias: nil, c: c, ldc: ldc)
    }

    /// GEMM on arbitrary element strides: A(i, p) = a[i * aRowStride + p * aColumnStride],
    /// B(p, j) = b[p * bRowStride + j * bColumnStride]; `rowBias[i]` (optional) is added to row i of C.
    /// Threads split C along its longer side.
    func stridedGEMM(m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, aRowStride: Int, aColumnStride: Int,
                     b: UnsafePointer<Float>, bRowStride: Int, bColumnStride: Int,
                     beta: Float = 0, rowBias: UnsafePointer<Float>? = nil, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            for i in 0..<m {
                let row = c + i * ldc
                let bias = rowBias?[i] ?? 0
                for j in 0..<n { row[j] = (beta == 0 ? 0 : beta * row[j]) + bias }
            }
            return
        }
        let split = WorkSplit(m: m, n: n, k: k, threads: pool.effectiveThreads)
        let kernels = self.kernels
        pool.forEachChunk(split.parts, minimumChunk: 1) { parts in
            for part in parts {
                let (rows, columns) = split.range(of: part)
                BufferPool.gemmWorkspaces.withBuffer(floats: BufferPool.gemmWorkspaceFloats) { workspace in
                    kernels.gemm(rows.count, columns.count, k, alpha,
                                 a + rows.lowerBound * aRowStride, aRowStride, aColumnStride,
                                 b + columns.lowerBound * bColumnStride, bRowStride, bColumnStride,
                                 beta, rowBias.map { $0 + rows.lowerBound },
                                 c + rows.lowerBound * ldc + columns.lowerBound, ldc, workspace)
                }
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

    init(m: Int, n: Int, k: Int, threads: Int) {
        self.m = m
        self.n = n
        alongRows = m >= n
        let flops = 2 * m * n * k
        let pieces = alongRows ? (m + 7) / 8 : (n + 31) / 32
        parts = flops < 1 << 21 ? 1 : max(1, min(threads, pieces))
    }

    func range(of part: Int) -> (rows: Range<Int>, columns: Range<Int>) {
        let (extent, granule) = alongRows ? (m, 8) : (n, 32)
        let granules = (extent + granule - 1) / granule
        let start = min(extent, granules * part / parts * granule)
        let end = part == parts - 1 ? extent : min(extent, granules * (part + 1) / parts * granule)
        return alongRows ? (start..<end, 0..<n) : (0..<m, start..<end)
    }
}
