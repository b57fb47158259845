import BackendInterface
import Foundation

extension CPUBackend {
    public func unary(_ operation: UnaryOperation, _ input: BackendBuffer, into output: BackendBuffer) {
        let (x, z, count) = (floats(input), floats(output), input.count)
        switch operation {
        case .relu: mappedLanes(x, z, count) { $0.replacing(with: 0, where: $0 .< 0) }
        case .silu: mappedLanes(x, z, count) { $0 / (1 + exp8(-$0)) }
        case .sigmoid: mappedLanes(x, z, count) { 1 / (1 + exp8(-$0)) }
        case .tanh: mapped(x, z, count) { Foundation.tanh($0) }
        case .exp: mappedLanes(x, z, count) { exp8($0) }
        case .sqrt: mapped(x, z, count) { $0.squareRoot() }
        case .gelu:
            // 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(|x| / sqrt 2) below zero, 0.5 x (2 - erfc) above.
            mappedLanes(x, z, count) { v in
                let complement = erfcOfMagnitude8(v * 0.707_106_781_186_547_52)
                let factor = complement.replacing(with: 2 - complement, where: v .> 0)
                return 0.5 * v * factor
            }
        case .geluTanh:
            mappedLanes(x, z, count) { v in
                let u = 0.797_884_560_802_865_36 * (v + 0.044715 * v * v * v)
                return v / (1 + exp8(-2 * u))
            }
        case .quickGELU: mappedLanes(x, z, count) { $0 / (1 + exp8(-1.702 * $0)) }
        }
    }

    public func scalar(_ operation: ScalarOperation, _ input: BackendBuffer, _ s: Float, into output: BackendBuffer) {
        let (x, z, count) = (floats(input), floats(output), input.count)
        switch operation {
        case .add: mapped(x, z, count) { $0 + s }
        case .subtract: mapped(x, z, count) { $0 - s }
        case .multiply: mapped(x, z, count) { $0 * s }
        case .divide: mapped(x, z, count) { $0 / s }
        case .reverseSubtract: mapped(x, z, count) { s - $0 }
        }
    }

    public func binary(_ operation: BinaryOperation, _ a: BackendBuffer, _ b: BackendBuffer, into output: BackendBuffer,
                       _ layout: BroadcastLayout) {
        let (x, y, z) = (floats(a), floats(b), floats(output))
        switch operation {
        case .add: broadcasting(x, y, z, layout, +)
        case .subtract: broadcasting(x, y, z, layout, -)
        case .multiply: broadcasting(x, y, z, layout, *)
        case .divide: broadcasting(x, y, z, layout, /)
        }
    }

    public func accumulate(_ source: BackendBuffer, scale: Float, into target: BackendBuffer) {
        let (x, y) = (floats(target), floats(source))
        pool.forEachChunk(target.count, minimumChunk: 1 << 15) { range in
            for i in range { x[i] += scale * y[i] }
        }
    }

    public func blend(_ a: BackendBuffer, _ b: BackendBuffer, weight: BackendBuffer, into output: BackendBuffer) {
        let (x, y, w, z) = (floats(a), floats(b), floats(weight), floats(output))
        pool.forEachChunk(output.count, minimumChunk: 1 << 14) { range in
            for i in range { z[i] = (1 - w[i]) * x[i] + w[i] * y[i] }
        }
    }

    /// Applies `operation` elementwise to `a` and `b` laid out by `layout` (contiguous output).
    @inline(__always)
    private func broadcasting(_ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                              _ z: UnsafeMutablePointer<Float>, _ layout: BroadcastLayout,
                              _ operation: (Float, Float) -> Float) {
        let shape = layout.shape, rank = shape.count
        let count = layout.count
        let contiguous = BroadcastLayout.contiguousStrides(shape)
        if layout.aStrides == contiguous && layout.bStrides == contiguous {
            pool.forEachChunk(count, minimumChunk: 1 << 15) { range in
                for i in range { z[i] = operation(x[i], y[i]) }
            }
            return
        }
        let (stridesA, stridesB) = (layout.aStrides, layout.bStrides)
        let inner = shape.last ?? 1
        let outerCount = count / max(inner, 1)
        let innerA = stridesA.last ?? 0, innerB = stridesB.last ?? 0
        pool.forEachChunk(outerCount, minimumChunk: max(1, 4096 / max(inner, 1))) { range in
            for outer in range {
                var remainder = outer
                var offsetA = 0, offsetB = 0
                for axis in stride(from: rank - 2, through: 0, by: -1) {
                    let index = remainder % shape[axis]
                    remainder /= shape[axis]
                    offsetA += index * stridesA[axis]
                    offsetB += index * stridesB[axis]
                }
                let out = z + outer * inner
                for j in 0..<inner { out[j] = operation(x[offsetA + j * innerA], y[offsetB + j * innerB]) }
            }
        }
    }

    /// Applies `operation` to every element.
    @inline(__always)
    private func mapped(_ x: UnsafeMutablePointer<Float>, _ z: UnsafeMutablePointer<Float>, _ count: Int,
                        _ operation: (Float) -> Float) {
        pool.forEachChunk(count, minimumChunk: 1 << 14) { range in
            for i in range { z[i] = operation(x[i]) }
        }
    }

    /// Applies `operation` to 8 elements at a time (the tail padded with zeros), so the activations run
    /// on vector registers instead of calling libm once per element.
    @inline(__always)
    private func mappedLanes(_ x: UnsafeMutablePointer<Float>, _ z: UnsafeMutablePointer<Float>, _ count: Int,
                             _ operation: (SIMD8<Float>) -> SIMD8<Float>) {
        pool.forEachChunk((count + 7) / 8, minimumChunk: 1 << 11) { range in
            for block in range {
                let start = block * 8
                if start + 8 <= count {
                    let value = operation(UnsafeRawPointer(x + start).loadUnaligned(as: SIMD8<Float>.self))
                    UnsafeMutableRawPointer(z + start).storeBytes(of: value, as: SIMD8<Float>.self)
                } else {
                    var lanes = SIMD8<Float>()
                    for i in start..<count { lanes[i - start] = x[i] }
                    let value = operation(lanes)
                    for i in start..<count { z[i] = value[i - start] }
                }
            }
        }
    }
}

extension BroadcastLayout {
    /// Row-major element strides of `shape`.
    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for axis in shape.indices.reversed() {
            strides[axis] = step
            step *= shape[axis]
        }
        return strides
    }
}

/// e^x on 8 lanes, the same approximation as the kernels' `exp16` (so activations and the softmax agree
/// everywhere): x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two for exactness), e^r by the Cephes
/// expf polynomial (~1 ulp), 2^n assembled in the exponent bits as two factors, so that n down to -150
/// rounds into the subnormals as PyTorch does (and on to exactly 0) and n = 128 overflows to infinity.
/// NaN stays NaN.
@inline(__always)
func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    typealias V = SIMD8<Float>
    // Clamped by masks: SIMD `clamped` is not lowered to vector min/max and costs more than the rest.
    var clamped = x
    clamped.replace(with: -104, where: x .< V(repeating: -104))
    clamped.replace(with: 89, where: x .> V(repeating: 89))
    // Adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits (no rounding instruction needed).
    let shifter = V(repeating: 12_582_912)
    let shifted = clamped * V(repeating: 1.442_695_04) + shifter
    let n = shifted - shifter
    let r = clamped - n * V(repeating: 0.693_359_375) - n * V(repeating: -2.121_944_4e-4)
    var p = V(repeating: 1.987_569_1e-4)
    p = p * r + V(repeating: 1.398_199_9e-3)
    p = p * r + V(repeating: 8.333_452e-3)
    p = p * r + V(repeating: 4.166_579_6e-2)
    p = p * r + V(repeating: 1.666_666_5e-1)
    p = p * r + V(repeating: 5.000_000_1e-1)
    p = p * (r * r) + r + V(repeating: 1)
    let exponent = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(shifter, to: SIMD8<Int32>.self)
    let half = exponent &>> 1
    let low = unsafeBitCast((half &+ 127) &<< 23, to: V.self)
    let high = unsafeBitCast((exponent &- half &+ 127) &<< 23, to: V.self)
    var result = p * low * high
    result.replace(with: x, where: x .!= x)
    return result
}

/// 1 - erf(|x|) on 8 lanes, by the classic Chebyshev fit erfc(z) = t exp(-z² + P(t)), t = 1 / (1 + z/2),
/// whose relative error stays below 1.2e-7 over the whole tail. Computing the complement directly
/// keeps GELU's negative tail accurate instead of cancelling in 1 + erf.
@inline(__always)
func erfcOfMagnitude8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    typealias V = SIMD8<Float>
    let z = unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: V.self)
    let t = 1 / (1 + 0.5 * z)
    var p = V(repeating: 0.170_872_77)
    p = p * t - V(repeating: 0.822_152_23)
    p = p * t + V(repeating: 1.488_515_87)
    p = p * t - V(repeating: 1.135_203_98)
    p = p * t + V(repeating: 0.278_868_07)
    p = p * t - V(repeating: 0.186_288_06)
    p = p * t + V(repeating: 0.096_784_18)
    p = p * t + V(repeating: 0.374_091_96)
    p = p * t + V(repeating: 1.000_023_68)
    p = p * t - V(repeating: 1.265_512_23)
    return t * exp8(p - z * z)
}
