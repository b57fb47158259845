import Foundation

// Elementwise arithmetic with PyTorch broadcasting, and the activation functions.

/// Shape of the broadcast of `a` and `b` (numpy rules), or nil when they are incompatible.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = max(a.count, b.count)
    let paddedA = Array(repeating: 1, count: rank - a.count) + a
    let paddedB = Array(repeating: 1, count: rank - b.count) + b
    var result: [Int] = []
    for (x, y) in zip(paddedA, paddedB) {
        guard x == y || x == 1 || y == 1 else { return nil }
        result.append(x == 1 ? y : x)
    }
    return result
}

/// Applies `operation` elementwise to broadcast `a` and `b`.
@inline(__always)
func broadcasting(_ a: Tensor, _ b: Tensor, _ operation: (Float, Float) -> Float) -> Tensor {
    if a.shape == b.shape {
        let result = Tensor(uninitializedShape: a.shape)
        let (x, y, z) = (a.data, b.data, result.data)
        Parallel.forEachChunk(a.count, minimumChunk: 1 << 15) { range in
            for i in range { z[i] = operation(x[i], y[i]) }
        }
        return result
    }
    guard let shape = broadcastShape(a.shape, b.shape) else {
        preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let rank = shape.count
    func strides(_ s: [Int]) -> [Int] {
        let padded = Array(repeating: 1, count: rank - s.count) + s
        var result = Array(repeating: 0, count: rank)
        var step = 1
        for axis in stride(from: rank - 1, through: 0, by: -1) {
            result[axis] = padded[axis] == 1 ? 0 : step
            step *= padded[axis]
        }
        return result
    }
    let stridesA = strides(a.shape), stridesB = strides(b.shape)
    let result = Tensor(uninitializedShape: shape)
    let inner = shape.last ?? 1
    let outerCount = result.count / max(inner, 1)
    let (x, y, z) = (a.data, b.data, result.data)
    let innerA = stridesA.last ?? 0, innerB = stridesB.last ?? 0
    Parallel.forEachChunk(outerCount, minimumChunk: max(1, 4096 / max(inner, 1))) { range in
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
    return result
}

/// Applies `operation` to every element.
@inline(__always)
func mapped(_ a: Tensor, _ operation: (Float) -> Float) -> Tensor {
    let result = Tensor(uninitializedShape: a.shape)
    let (x, z) = (a.data, result.data)
    Parallel.forEachChunk(a.count, minimumChunk: 1 << 14) { range in
        for i in range { z[i] = operation(x[i]) }
    }
    return result
}

public func + (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, +) }
public func - (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, -) }
public func * (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, *) }
public func / (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, /) }
public func + (a: Tensor, b: Float) -> Tensor { mapped(a) { $0 + b } }
public func - (a: Tensor, b: Float) -> Tensor { mapped(a) { $0 - b } }
public func * (a: Tensor, b: Float) -> Tensor { mapped(a) { $0 * b } }
public func / (a: Tensor, b: Float) -> Tensor { mapped(a) { $0 / b } }
public func * (a: Float, b: Tensor) -> Tensor { mapped(b) { a * $0 } }
public func + (a: Float, b: Tensor) -> Tensor { mapped(b) { a + $0 } }
public func - (a: Float, b: Tensor) -> Tensor { mapped(b) { a - $0 } }
public prefix func - (a: Tensor) -> Tensor { mapped(a) { -$0 } }

extension Tensor {
    /// In-place `self += other` for same-shape tensors (the residual adds of the networks).
    public func add(_ other: Tensor, scale: Float = 1) {
        precondition(count == other.count, "add: \(shape) vs \(other.shape)")
        let (x, y) = (data, other.data)
        Parallel.forEachChunk(count, minimumChunk: 1 << 15) { range in
            for i in range { x[i] += scale * y[i] }
        }
    }
}

/// Applies `operation` to 8 elements at a time (the tail padded with zeros), so the activations run
/// on vector registers instead of calling libm once per element.
@inline(__always)
func mappedLanes(_ a: Tensor, _ operation: (SIMD8<Float>) -> SIMD8<Float>) -> Tensor {
    let result = Tensor(uninitializedShape: a.shape)
    let (x, z, count) = (a.data, result.data, a.count)
    Parallel.forEachChunk((count + 7) / 8, minimumChunk: 1 << 11) { range in
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
    return result
}

/// e^x on 8 lanes: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two for exactness), e^r by the
/// Cephes expf polynomial (~1 ulp), 2^n assembled in the exponent bits as two factors so n = 128
/// does not overflow. Below -87.3 gives 0 (PyTorch gives a denormal), above 88.7 infinity, NaN stays NaN.
@inline(__always)
func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    typealias V = SIMD8<Float>
    // Clamped by masks: SIMD `clamped` is not lowered to vector min/max and costs more than the rest.
    var clamped = x
    clamped.replace(with: -87.3, where: x .< V(repeating: -87.3))
    clamped.replace(with: 88.7, where: x .> V(repeating: 88.7))
    // Adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits (no rounding instruction needed).
    let shifter = V(repeating: 12_582_912)
    let shifted = clamped * V(repeating: 1.442_695_04) + shifter
    let n = shifted - shifter
    let r = clamped - n * V(repeating: 0.693_359_375) - n * V(repeating: -2.121_944_4e-4)
    var p = V(repeating: 1.987_569_15e-4)
    p = p * r + V(repeating: 1.398_199_95e-3)
    p = p * r + V(repeating: 8.333_451_9e-3)
    p = p * r + V(repeating: 4.166_579_59e-2)
    p = p * r + V(repeating: 1.666_666_55e-1)
    p = p * r + V(repeating: 5.000_000_12e-1)
    p = p * (r * r) + r + V(repeating: 1)
    let exponent = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(shifter, to: SIMD8<Int32>.self)
    let half = exponent &>> 1
    let low = unsafeBitCast((half &+ 127) &<< 23, to: V.self)
    let high = unsafeBitCast((exponent &- half &+ 127) &<< 23, to: V.self)
    var result = p * low * high
    result.replace(with: 0, where: x .< V(repeating: -87.3))
    result.replace(with: .infinity, where: x .> V(repeating: 88.7))
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

/// NaN stays NaN and -0 stays -0 (comparison-based, like PyTorch's clamp_min).
public func relu(_ x: Tensor) -> Tensor { mappedLanes(x) { $0.replacing(with: 0, where: $0 .< 0) } }
public func silu(_ x: Tensor) -> Tensor { mappedLanes(x) { $0 / (1 + exp8(-$0)) } }
public func sigmoid(_ x: Tensor) -> Tensor { mappedLanes(x) { 1 / (1 + exp8(-$0)) } }
public func tanh(_ x: Tensor) -> Tensor { mapped(x) { Foundation.tanh($0) } }
public func exp(_ x: Tensor) -> Tensor { mappedLanes(x) { exp8($0) } }
public func sqrt(_ x: Tensor) -> Tensor { mapped(x) { $0.squareRoot() } }

public enum GELUApproximation: Sendable { case none, tanh }

/// PyTorch `gelu`: exact erf form, or the tanh approximation (as x * sigmoid(2u), the same function).
public func gelu(_ x: Tensor, approximation: GELUApproximation = .none) -> Tensor {
    switch approximation {
    case .none:
        // 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(|x| / sqrt 2) below zero, 0.5 x (2 - erfc) above.
        return mappedLanes(x) { v in
            let complement = erfcOfMagnitude8(v * 0.707_106_781_186_547_52)
            let factor = complement.replacing(with: 2 - complement, where: v .> 0)
            return 0.5 * v * factor
        }
    case .tanh:
        return mappedLanes(x) { v in
            let u = 0.797_884_560_802_865_36 * (v + 0.044715 * v * v * v)
            return v / (1 + exp8(-2 * u))
        }
    }
}

/// OpenAI CLIP's `quick_gelu`: x * sigmoid(1.702 x).
public func quickGELU(_ x: Tensor) -> Tensor { mappedLanes(x) { $0 / (1 + exp8(-1.702 * $0)) } }
