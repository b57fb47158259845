#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// target += scale * source, as a multiply then an add (no fused multiply-add).
layout(local_size_x = 256) in;
layout(binding = 0) buffer Target { ACT target[]; };
layout(binding = 1) readonly buffer Source { ACT source[]; };
layout(push_constant) uniform Parameters { uint count; float scale; } p;

void main() {
    uint i = flatIndex();
    if (i >= p.count) return;
    precise float product = p.scale * float(source[i]);
    precise float sum = float(target[i]) + product;
    target[i] = ACT(sum);
}
