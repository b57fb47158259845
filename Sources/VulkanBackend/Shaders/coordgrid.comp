#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// RAFT's coordinate grid [batch, 2, height, width]: channel 0 the column, 1 the row.
layout(local_size_x = 256) in;
layout(binding = 0) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters { uint count; uint height; uint width; } p;

void main() {
    uint i = flatIndex();
    if (i >= p.count) return;
    uint plane = p.height * p.width;
    uint within = i % plane, channel = (i / plane) % 2u;
    z[i] = ACT(channel == 0u ? float(within % p.width) : float(within / p.width));
}
