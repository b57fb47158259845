#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// x op s (ScalarOperation order: add, subtract, multiply, divide, reverseSubtract).
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Input { ACT x[]; };
layout(binding = 1) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters { uint count; uint operation; float s; } p;

void main() {
    uint i = flatIndex();
    if (i >= p.count) return;
    float v = float(x[i]);
    float r;
    switch (p.operation) {
    case 0: r = v + p.s; break;
    case 1: r = v - p.s; break;
    case 2: r = v * p.s; break;
    case 3: r = v / p.s; break;
    default: r = p.s - v; break;
    }
    z[i] = ACT(r);
}
