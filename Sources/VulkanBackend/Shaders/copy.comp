#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Strided copy of rank <= 6 (the engine's slices, concatenation, permutations); elements are moved as
// bits (32-bit words, or 16-bit with -DELEMENT_16).
#ifdef ELEMENT_16
#define ELEMENT uint16_t
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : require
#else
#define ELEMENT uint
#endif
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Source { ELEMENT source[]; };
layout(binding = 1) writeonly buffer Output { ELEMENT target[]; };
layout(push_constant) uniform Parameters {
    uint count; uint rank; uint sourceOffset; uint outputOffset;
    uint shape[6]; uint sourceStrides[6]; uint outputStrides[6];
} p;

void main() {
    uint i = flatIndex();
    if (i >= p.count) return;
    uint remainder = i, from = p.sourceOffset, to = p.outputOffset;
    for (int axis = int(p.rank) - 1; axis >= 0; axis--) {
        uint index = remainder % p.shape[axis];
        remainder /= p.shape[axis];
        from += index * p.sourceStrides[axis];
        to += index * p.outputStrides[axis];
    }
    target[to] = source[from];
}
