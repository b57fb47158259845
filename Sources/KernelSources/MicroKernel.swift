// Shared source of the GEMM micro-kernels, compiled once per ISA target (KernelsAVX512, KernelsAVX2,
// KernelsPortable link here by symlink). Keep it free of imports beyond the standard library.

/// Dot product of two float vectors, SIMD16-accumulated.
@inline(never)
public func kernelDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    var accumulator = SIMD16<Float>(repeating: 0)
    var index = 0
    while index + 16 <= count {
        accumulator.addProduct(UnsafeRawPointer(a + index).loadUnaligned(as: SIMD16<Float>.self),
                               UnsafeRawPointer(b + index).loadUnaligned(as: SIMD16<Float>.self))
        index += 16
    }
    var total = accumulator.sum()
    while index < count {
        total += a[index] * b[index]
        index += 1
    }
    return total
}
