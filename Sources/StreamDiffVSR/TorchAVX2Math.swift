// The single-precision log and sincos of PyTorch's AVX2 normal kernel (aten/src/ATen/native/cpu/
// avx_mathfun.h: Pommier's Cephes-based polynomials, eight lanes at a time). They are not correctly
// rounded, so reproducing torch.randn bit for bit needs the same operations in the same order; this is a
// one-lane rewrite of the same algorithm. Where a product feeds only an addition, GCC (which builds the
// released wheels, contracting by default) fuses the two into one FMA; `fused(_:_:_:)` marks those places.
// Without them 10 of the fixture's first 1000 normals differ from torch by an ulp.

import Foundation

enum TorchAVX2Math {
    private static let minimumNormal = Float(bitPattern: 0x0080_0000)
    // avx_mathfun.h spells its constants as double literals stored into float arrays: round through Double.
    private static let sqrtHalf = Float(0.707106781186547524 as Double)
    private static let logCoefficients: [Float] = [
        7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
        -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1,
    ].map { (value: Double) in Float(value) }
    private static let logQ1 = Float(-2.12194440e-4 as Double)
    private static let logQ2 = Float(0.693359375 as Double)

    private static let fourOverPi = Float(1.27323954473516 as Double)
    private static let minusDP1 = Float(-0.78515625 as Double)
    private static let minusDP2 = Float(-2.4187564849853515625e-4 as Double)
    private static let minusDP3 = Float(-3.77489497744594108e-8 as Double)
    private static let sineCoefficients: [Float] = [-1.9515295891E-4, 8.3321608736E-3, -1.6666654611E-1]
        .map { (value: Double) in Float(value) }
    private static let cosineCoefficients: [Float] = [2.443315711809948E-005, -1.388731625493765E-003, 4.166664568298827E-002]
        .map { (value: Double) in Float(value) }

    /// `a * b + c` rounded once, as the FMA GCC emits for a multiply feeding an add.
    @inline(__always)
    private static func fused(_ a: Float, _ b: Float, _ c: Float) -> Float { c.addingProduct(a, b) }

    /// `log256_ps` for a positive argument.
    static func log(_ argument: Float) -> Float {
        var x = max(argument, minimumNormal)
        let exponentField = Int32(bitPattern: x.bitPattern >> 23) - 0x7F
        // Keep the mantissa, force the exponent of 0.5: x in [0.5, 1).
        x = Float(bitPattern: (x.bitPattern & ~0x7F80_0000) | Float(0.5).bitPattern)
        var exponent = Float(exponentField) + 1
        let belowSqrtHalf = x < sqrtHalf
        let addBack: Float = belowSqrtHalf ? x : 0
        x -= 1
        exponent -= belowSqrtHalf ? 1 : 0
        x += addBack

        let z = x * x
        var y = logCoefficients[0]
        for coefficient in logCoefficients.dropFirst() {
            y = fused(y, x, coefficient)
        }
        y *= x
        y = fused(y, z, exponent * logQ1)
        y = fused(-z, 0.5, y)
        return fused(exponent, logQ2, x + y)
    }

    /// `sincos256_ps`: (sine, cosine).
    static func sincos(_ argument: Float) -> (sin: Float, cos: Float) {
        var signOfSine = argument.bitPattern & 0x8000_0000
        var x = Float(bitPattern: argument.bitPattern & 0x7FFF_FFFF)
        // Octant j = (int(x * 4/pi) + 1) & ~1, then x reduced by j * pi/4 in three extended-precision parts.
        var octant = Int32(truncatingIfNeeded: Int64(x * fourOverPi))
        octant = (octant &+ 1) & ~1
        let y = Float(octant)
        let swapSignOfSine = UInt32(bitPattern: octant & 4) << 29
        let useSinePolynomialForSine = octant & 2 == 0
        x = fused(y, minusDP1, x)
        x = fused(y, minusDP2, x)
        x = fused(y, minusDP3, x)
        let signOfCosine = UInt32(bitPattern: ~(octant &- 2) & 4) << 29
        signOfSine ^= swapSignOfSine

        let z = x * x
        var cosine = fused(cosineCoefficients[0], z, cosineCoefficients[1])
        cosine = fused(cosine, z, cosineCoefficients[2])
        cosine *= z
        cosine = fused(cosine, z, -(z * 0.5))
        cosine += 1

        var sine = fused(sineCoefficients[0], z, sineCoefficients[1])
        sine = fused(sine, z, sineCoefficients[2])
        sine *= z
        sine = fused(sine, x, x)

        // The C code selects with bit masks and adds the parts: keep its arithmetic, zeros included.
        let sinePart: Float = useSinePolynomialForSine ? sine : 0
        let cosinePart: Float = useSinePolynomialForSine ? 0 : cosine
        sine -= sinePart
        cosine -= cosinePart
        let sineResult = cosinePart + sinePart
        let cosineResult = cosine + sine
        return (Float(bitPattern: sineResult.bitPattern ^ signOfSine), Float(bitPattern: cosineResult.bitPattern ^ signOfCosine))
    }
}
