// Storage formats the released weights arrive in. Compute is always float32; these convert on load.

public enum StorageDType: String, Sendable {
    case float32 = "F32", float16 = "F16", bfloat16 = "BF16"

    public var byteSize: Int { self == .float32 ? 4 : 2 }
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

/// Converts `count` elements of `dtype` from raw little-endian bytes into floats.
public func convertToFloat(_ source: UnsafeRawPointer, dtype: StorageDType, count: Int, into target: UnsafeMutablePointer<Float>) {
    switch dtype {
    case .float32:
        UnsafeMutableRawPointer(target).copyMemory(from: source, byteCount: count * 4)
    case .float16:
        Parallel.forEachChunk(count, minimumChunk: 1 << 16) { range in
            for i in range { target[i] = floatFromHalfBits(source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
        }
    case .bfloat16:
        Parallel.forEachChunk(count, minimumChunk: 1 << 16) { range in
            for i in range { target[i] = floatFromBFloat16Bits(source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) }
        }
    }
}
