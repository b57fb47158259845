// Vectorised transcendental helpers for the attention softmax (scalar libm exp would cost more than
// the attention GEMMs themselves).

/// e^x for 16 lanes: Cody-Waite reduction x = n·ln2 + r, |r| <= ln2/2, degree-6 minimax polynomial
/// (the Cephes expf coefficients, ~1 ulp), scaled by 2^n through the exponent bits in two halves, so
/// that n down to -150 rounds into the subnormals and on to exactly 0 (x = -inf gives 0) and n = 128
/// overflows to +inf. Only min / max / arithmetic on whole vectors: no lane masks, which the standard
/// library lowers to scalar loops.
@inline(__always)
func exp16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    typealias V = SIMD16<Float>
    let clamped = lanewiseMin(lanewiseMax(x, V(repeating: -104)), V(repeating: 89))
    // Adding 1.5·2^23 rounds to the nearest integer and leaves it in the low mantissa bits.
    let shifter = V(repeating: 12_582_912)
    let shifted = clamped * V(repeating: 1.442_695_04) + shifter
    let n = shifted - shifter
    var r = clamped - n * V(repeating: 0.693_359_375)
    r = r - n * V(repeating: -2.121_944_4e-4)
    var p = V(repeating: 1.987_569_1e-4)
    p = p * r + V(repeating: 1.398_199_9e-3)
    p = p * r + V(repeating: 8.333_452e-3)
    p = p * r + V(repeating: 4.166_579_6e-2)
    p = p * r + V(repeating: 1.666_666_5e-1)
    p = p * r + V(repeating: 5.000_000_1e-1)
    p = p * (r * r) + r + V(repeating: 1)
    let integer = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(shifter, to: SIMD16<Int32>.self)
    let half = integer &>> 1
    let scaleLow = unsafeBitCast((half &+ 127) &<< 23, to: V.self)
    let scaleHigh = unsafeBitCast((integer &- half &+ 127) &<< 23, to: V.self)
    return p * scaleLow * scaleHigh
}

/// Lane-wise max from the sign of the difference, in integer ops only (the standard library's
/// `pointwiseMax` follows IEEE maximum NaN rules lane by lane in a scalar loop). Not for NaN inputs.
@inline(__always)
func lanewiseMax(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
    let aLess = unsafeBitCast(a - b, to: SIMD16<Int32>.self) &>> 31
    let bits = (unsafeBitCast(a, to: SIMD16<Int32>.self) & ~aLess) | (unsafeBitCast(b, to: SIMD16<Int32>.self) & aLess)
    return unsafeBitCast(bits, to: SIMD16<Float>.self)
}

@inline(__always)
func lanewiseMin(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
    let aLess = unsafeBitCast(a - b, to: SIMD16<Int32>.self) &>> 31
    let bits = (unsafeBitCast(a, to: SIMD16<Int32>.self) & aLess) | (unsafeBitCast(b, to: SIMD16<Int32>.self) & ~aLess)
    return unsafeBitCast(bits, to: SIMD16<Float>.self)
}

/// Scalar entry to the same approximation (tails of rows).
@inline(__always)
func exp1(_ x: Float) -> Float {
    exp16(SIMD16(repeating: x))[0]
}

/// In-place softmax of one row, max-subtracted like PyTorch.
public func kernelSoftmaxRow(_ row: UnsafeMutablePointer<Float>, count: Int) {
    typealias V = SIMD16<Float>
    var maxima = V(repeating: -.infinity)
    var index = 0
    while index + 16 <= count {
        maxima = lanewiseMax(maxima, load(row + index, as: V.self))
        index += 16
    }
    var maximum = (0..<16).reduce(-Float.infinity) { max($0, maxima[$1]) }
    while index < count {
        maximum = max(maximum, row[index])
        index += 1
    }
    guard maximum > -.infinity else {
        // A fully masked row: PyTorch's softmax yields NaN there, keep that visible.
        row.update(repeating: .nan, count: count)
        return
    }
    let shift = V(repeating: maximum)
    var sums = V()
    index = 0
    while index + 16 <= count {
        let e = exp16(load(row + index, as: V.self) - shift)
        store(e, row + index)
        sums += e
        index += 16
    }
    var sum = sums.sum()
    while index < count {
        let e = exp1(row[index] - maximum)
        row[index] = e
        sum += e
        index += 1
    }
    let inverse = V(repeating: 1 / sum)
    index = 0
    while index + 16 <= count {
        store(load(row + index, as: V.self) * inverse, row + index)
        index += 16
    }
    while index < count {
        row[index] *= inverse[0]
        index += 1
    }
}

/// e^x over a buffer in place (for callers that need a fast vector exp).
public func kernelExp(_ values: UnsafeMutablePointer<Float>, count: Int) {
    var index = 0
    while index + 16 <= count {
        store(exp16(load(values + index, as: SIMD16<Float>.self)), values + index)
        index += 16
    }
    while index < count {
        values[index] = exp1(values[index])
        index += 1
    }
}
