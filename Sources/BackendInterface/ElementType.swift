// Storage element types and their exact conversions (shared by every backend and the checkpoint reader).

/// How a buffer stores its elements. Compute is float32 unless a backend says it can compute on the
/// reduced types directly (`ComputeBackend.computesWithWeights(of:)`).
public enum ElementType: String, Sendable, CaseIterable, Codable {
    case float32, float16, bfloat16

    public var byteSize: Int { self == .float32 ? 4 : 2 }

    /// The names users type (`--precision fp16`).
    public init?(precisionName: String) {
        switch precisionName.lowercased() {
        case "fp32", "float32", "f32": self = .float32
        case "fp16", "float16", "f16", "half": self = .float16
        case "bf16", "bfloat16": self = .bfloat16
        default: return nil
        }
    }

    public var precisionName: String {
        switch self {
        case .float32: "fp32"
        case .float16: "fp16"
        case .bfloat16: "bf16"
        }
    }
}

/// IEEE half -> float, exact for every value (subnormals, infinities, NaN).
@inline(__always)
public func floatFromHalfBits(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0 {
        if mantissa == 0 { return Float(bitPattern: sign) }
        let value = Float(mantissa) * 0x1p-24
        return sign != 0 ? -value : value
    }
    if exponent == 0x1F {
        // NaNs come out quiet with their payload, as the hardware conversion (and so torch) does.
        let quiet: UInt32 = mantissa == 0 ? 0 : 0x0040_0000
        return Float(bitPattern: sign | 0x7F80_0000 | quiet | (mantissa << 13))
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// bfloat16 -> float (the upper half of a float).
@inline(__always)
public func floatFromBFloat16Bits(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

/// float -> IEEE half bits, rounding to nearest even like torch's `.half()`: too large becomes
/// infinity, too small a signed zero, and a NaN stays a quiet NaN.
@inline(__always)
public func halfBits(from value: Float) -> UInt16 {
    let bits = value.bitPattern
    let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
    let exponent = Int((bits >> 23) & 0xFF)
    let mantissa = bits & 0x7F_FFFF
    if exponent == 0xFF { return sign | 0x7C00 | (mantissa == 0 ? 0 : 0x200 | UInt16(mantissa >> 13)) }
    let halfExponent = exponent - 127 + 15
    if halfExponent >= 0x1F { return sign | 0x7C00 }
    if halfExponent <= 0 {
        // Subnormal half: the full 24-bit significand shifted down, rounded on the dropped bits.
        guard halfExponent >= -10 else { return sign }
        let significand = mantissa | 0x80_0000
        let shift = UInt32(14 - halfExponent)
        var half = significand >> shift
        let remainder = significand & ((1 << shift) - 1), halfway: UInt32 = 1 << (shift - 1)
        if remainder > halfway || (remainder == halfway && half & 1 == 1) { half += 1 }
        return sign | UInt16(half)
    }
    // A carry out of the mantissa correctly bumps the exponent (up to infinity).
    var half = UInt32(halfExponent) << 10 | mantissa >> 13
    let remainder = mantissa & 0x1FFF
    if remainder > 0x1000 || (remainder == 0x1000 && half & 1 == 1) { half += 1 }
    return sign | UInt16(half)
}

/// float -> bfloat16 bits, rounding to nearest even like torch's `.bfloat16()`; a NaN stays a quiet NaN.
@inline(__always)
public func bfloat16Bits(from value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
    let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
}
