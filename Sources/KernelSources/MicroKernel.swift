// Shared source of the GEMM micro-kernels, compiled once per ISA target (KernelsAVX512, KernelsAVX2,
// KernelsPortable link here by symlink). Keep it free of imports beyond the standard library: the
// target CPU flags of each build are what turn the SIMD types below into AVX-512 / AVX2 registers.

/// A register-blocked kernel computing one `rows x columns` tile of C from packed panels:
/// A panel `depth x rows` (row index fastest), B panel `depth x columns` (column index fastest).
protocol MicroKernel {
    static var rows: Int { get }
    static var columns: Int { get }
    /// Cache blocking: `depthBlock` (KC) rows of B per packed panel, `rowBlock` (MC) rows of A per
    /// packed block, `columnBlock` (NC) columns of B per packed block.
    static var depthBlock: Int { get }
    static var rowBlock: Int { get }
    static var columnBlock: Int { get }

    /// C = alpha * A·B + beta * C (+ rowBias[i] when given). beta == 0 never reads C, so C may be
    /// uninitialised memory.
    static func multiply(depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, alpha: Float, beta: Float,
                         rowBias: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int)
}

@inline(__always)
func load<V: SIMD>(_ pointer: UnsafePointer<Float>, as: V.Type) -> V where V.Scalar == Float {
    UnsafeRawPointer(pointer).loadUnaligned(as: V.self)
}

@inline(__always)
func store<V: SIMD>(_ value: V, _ pointer: UnsafeMutablePointer<Float>) where V.Scalar == Float {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: V.self)
}

/// Writes one accumulator row pair of a tile, applying alpha / beta / bias.
@inline(__always)
func storeRow<V: SIMD>(_ low: V, _ high: V, row: Int, alpha: Float, beta: Float, rowBias: UnsafePointer<Float>?,
                       c: UnsafeMutablePointer<Float>, ldc: Int) where V.Scalar == Float {
    let target = c + row * ldc
    let width = V.scalarCount
    var first = low * alpha, second = high * alpha
    if beta != 0 {
        first.addProduct(V(repeating: beta), load(target, as: V.self))
        second.addProduct(V(repeating: beta), load(target + width, as: V.self))
    }
    if let rowBias {
        first += V(repeating: rowBias[row])
        second += V(repeating: rowBias[row])
    }
    store(first, target)
    store(second, target + width)
}

/// 8 x 32 tile in 16 SIMD16 accumulators: with AVX-512 that is 16 of the 32 zmm registers, leaving
/// room for the two B vectors and the A broadcasts without spilling. Eight rows divide the channel
/// counts of the UNet (64 ... 1280), so convolutions run without edge tiles.
enum Wide8x32: MicroKernel {
    static let rows = 8
    static let columns = 32
    // Measured on Zen 4 (32 KB L1, 1 MB L2): a deep KC beats keeping the B micro-panel in L1.
    static let depthBlock = 512
    static let rowBlock = 96
    static let columnBlock = 1024

    @inline(__always)
    static func multiply(depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, alpha: Float, beta: Float,
                         rowBias: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int) {
        typealias V = SIMD16<Float>
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
        var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
        var pa = a, pb = b
        for _ in 0..<depth {
            let b0 = load(pb, as: V.self), b1 = load(pb + 16, as: V.self)
            var broadcast = V(repeating: pa[0])
            c00.addProduct(broadcast, b0); c01.addProduct(broadcast, b1)
            broadcast = V(repeating: pa[1])
            c10.addProduct(broadcast, b0); c11.addProduct(broadcast, b1)
            broadcast = V(repeating: pa[2])
            c20.addProduct(broadcast, b0); c21.addProduct(broadcast, b1)
            broadcast = V(repeating: pa[3])
            c30.addProduct(broadcast, b0); c31.addProduct(broadcast, b1)
            broadcast = V(repeating: pa[4])
            c40.addProduct(broadcast, b0); c41.addProduct(broadcast, b1)
            broadcast = V(repeating: pa[5])
            c50.addProduct(broadcast, b0); c51.addProduct(broadcast, b1)
            broadcast = V(repeating: pa[6])
            c60.addProduct(broadcast, b0); c61.addProduct(broadcast, b1)
            broadcast = V(repeating: pa[7])
            c70.addProduct(broadcast, b0); c71.addProduct(broadcast, b1)
            pa += 8
            pb += 32
        }
        storeRow(c00, c01, row: 0, alpha: alpha, beta: beta, rowBias: rowBias, c: c, ldc: ldc)
        storeRow(c10, c11, row: 1, alpha: alpha, beta: beta, rowBias: rowBias, c: c, ldc: ldc)
        storeRow(c20, c21, row: 2, alpha: alpha, beta: beta, rowBias: rowBias, c: c, ldc: ldc)
        storeRow(c30, c31, row: 3, alpha: alpha, beta: beta, rowBias: rowBias, c: c, ldc: ldc)
        storeRow(c40, c41, row: 4, alpha: alpha, beta: beta, rowBias: rowBias, c: c, ldc: ldc)
        storeRow(c50, c51, row: 5, alpha: alpha, beta: beta, rowBias: rowBias, c: c, ldc: ldc)
        storeRow(c60, c61, row: 6, alpha: alpha, beta: beta, rowBias: rowBias, c: c, ldc: ldc)
        storeRow(c70, c71, row: 7, alpha: alpha, beta: beta, rowBias: rowBias, c: c, ldc: ldc)
    }
}

/// 6 x 16 tile in 12 SIMD8 accumulators: the AVX2 (16 ymm registers) and NEON-sized counterpart.
enum Narrow6x16: MicroKernel {
    static let rows = 6
    static let columns = 16
    static let depthBlock = 256
    static let rowBlock = 144
    static let columnBlock = 2048

    @inline(__always)
    static func multiply(depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, alpha: Float, beta: Float,
                         rowBias: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int) {
        typealias V = SIMD8<Float>
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V()
        var c30 = V(), c31 = V(), c40 = V(), c41 = V(), c50 = V(), c51 = V()
        var pa = a, pb = b
        for _ in 0..<depth {
            let b0 = load(pb, as: V.self), b1 = load(pb + 8, as: V.self)
            var broadcast = V(repeating: pa[0])
            c00.addProduct(broadcast, b0); c01.addProduct(broadcast, b1)
            broadcast = V(repeating: pa[1])
            c10.addProduct(broadcast, b0); c11.addProduct(broadcast, b1)
            broadcast = V(repeating: pa[2])
            c20.addProduct(broadcast, b0); c21.addProduct(broadcast, b1)
            broadcast = V(repeating: pa[3])
            c30.addProduct(broadcast, b0); c31.addProduct(broadcast, b1)
            broadcast = V(repeating: pa[4])
            c40.addProduct(broadcast, b0); c41.addProduct(broadcast, b1)
            broadcast = V(repeating: pa[5])
            c50.addProduct(broadcast, b0); c51.addProduct(broadcast, b1)
            pa += 6
            pb += 16
        }
        storeRow(c00, c01, row: 0, alpha: alpha, beta: beta, rowBias: rowBias, c: c, ldc: ldc)
        storeRow(c10, c11, row: 1, alpha: alpha, beta: beta, rowBias: rowBias, c: c, ldc: ldc)
        storeRow(c20, c21, row: 2, alpha: alpha, beta: beta, rowBias: rowBias, c: c, ldc: ldc)
        storeRow(c30, c31, row: 3, alpha: alpha, beta: beta, rowBias: rowBias, c: c, ldc: ldc)
        storeRow(c40, c41, row: 4, alpha: alpha, beta: beta, rowBias: rowBias, c: c, ldc: ldc)
        storeRow(c50, c51, row: 5, alpha: alpha, beta: beta, rowBias: rowBias, c: c, ldc: ldc)
    }
}

