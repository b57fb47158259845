#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Element-type conversion in integer arithmetic on 32-bit words, bit-exact with torch (round to
// nearest even, NaN kept quiet) and independent of the device's 16-bit support. Types: 0 float32,
// 1 float16, 2 bfloat16. Invocation i writes output word i: one float32, or two 16-bit elements.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Source { uint source[]; };
layout(binding = 1) buffer Output { uint target[]; };
layout(push_constant) uniform Parameters { uint count; uint from; uint to; } p;

uint halfFromFloat(uint bits) {
    uint sign = (bits >> 16) & 0x8000u;
    int exponent = int((bits >> 23) & 0xFFu);
    uint mantissa = bits & 0x7FFFFFu;
    if (exponent == 0xFF) return sign | 0x7C00u | (mantissa == 0u ? 0u : (0x200u | (mantissa >> 13)));
    int halfExponent = exponent - 127 + 15;
    if (halfExponent >= 0x1F) return sign | 0x7C00u;
    if (halfExponent <= 0) {
        if (halfExponent < -10) return sign;
        uint significand = mantissa | 0x800000u;
        uint shift = uint(14 - halfExponent);
        uint half_ = significand >> shift;
        uint remainder = significand & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
        if (remainder > halfway || (remainder == halfway && (half_ & 1u) == 1u)) half_ += 1u;
        return sign | half_;
    }
    uint half_ = (uint(halfExponent) << 10) | (mantissa >> 13);
    uint remainder = mantissa & 0x1FFFu;
    if (remainder > 0x1000u || (remainder == 0x1000u && (half_ & 1u) == 1u)) half_ += 1u;
    return sign | half_;
}

uint floatFromHalf(uint bits) {
    uint sign = (bits & 0x8000u) << 16;
    uint exponent = (bits >> 10) & 0x1Fu;
    uint mantissa = bits & 0x3FFu;
    if (exponent == 0u) {
        if (mantissa == 0u) return sign;
        // Subnormal: normalise the significand.
        uint e = 113u;
        while ((mantissa & 0x400u) == 0u) { mantissa <<= 1; e -= 1u; }
        return sign | (e << 23) | ((mantissa & 0x3FFu) << 13);
    }
    if (exponent == 0x1Fu) return sign | 0x7F800000u | (mantissa == 0u ? 0u : 0x400000u) | (mantissa << 13);
    return sign | ((exponent + 112u) << 23) | (mantissa << 13);
}

uint bfloatFromFloat(uint bits) {
    bool isNaN = (bits & 0x7F800000u) == 0x7F800000u && (bits & 0x7FFFFFu) != 0u;
    if (isNaN) return (bits >> 16) | 0x40u;
    return ((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16) & 0xFFFFu;
}

uint toFloat(uint bits, uint type) { return type == 1u ? floatFromHalf(bits) : bits << 16; }
uint fromFloat(uint bits, uint type) { return type == 1u ? halfFromFloat(bits) : bfloatFromFloat(bits); }

uint element16(uint index) { return (source[index >> 1] >> ((index & 1u) * 16u)) & 0xFFFFu; }

void main() {
    uint i = flatIndex();
    if (p.to == 0u) {
        if (i >= p.count) return;
        target[i] = toFloat(element16(i), p.from);
        return;
    }
    uint first = 2u * i;
    if (first >= p.count) return;
    uint low, high = 0u;
    if (p.from == 0u) {
        low = fromFloat(source[first], p.to);
        if (first + 1u < p.count) high = fromFloat(source[first + 1u], p.to);
    } else {
        low = fromFloat(toFloat(element16(first), p.from), p.to);
        if (first + 1u < p.count) high = fromFloat(toFloat(element16(first + 1u), p.from), p.to);
    }
    target[i] = low | (high << 16);
}
