#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// a op b with broadcasting as strides (rank <= 6; BinaryOperation order: add, subtract, multiply,
// divide). The output may be a itself (then a's strides are the output's own).
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer A { ACT a[]; };
layout(binding = 1) readonly buffer B { ACT b[]; };
layout(binding = 2) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters {
    uint count; uint operation; uint rank;
    uint shape[6]; uint aStrides[6]; uint bStrides[6];
} p;

void main() {
    uint i = flatIndex();
    if (i >= p.count) return;
    uint remainder = i, offsetA = 0, offsetB = 0;
    for (int axis = int(p.rank) - 1; axis >= 0; axis--) {
        uint index = remainder % p.shape[axis];
        remainder /= p.shape[axis];
        offsetA += index * p.aStrides[axis];
        offsetB += index * p.bStrides[axis];
    }
    float x = float(a[offsetA]), y = float(b[offsetB]);
    float r;
    switch (p.operation) {
    case 0: r = x + y; break;
    case 1: r = x - y; break;
    case 2: r = x * y; break;
    default: r = x / y; break;
    }
    z[i] = ACT(r);
}
