#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// A grid_sample grid [batch, height, width, 2] from a pixel flow: 2 (v + flow) / span - 1 per axis.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Flow { ACT flow[]; };
layout(binding = 1) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters { uint count; uint height; uint width; float spanX; float spanY; } p;

void main() {
    uint i = flatIndex();
    if (i >= p.count) return;
    uint plane = p.height * p.width;
    uint n = i / plane, index = i % plane;
    uint x = index % p.width, y = index / p.width;
    precise float gx = 2.0 * (float(x) + float(flow[n * 2u * plane + index])) / p.spanX - 1.0;
    precise float gy = 2.0 * (float(y) + float(flow[n * 2u * plane + plane + index])) / p.spanY - 1.0;
    z[2u * i] = ACT(gx);
    z[2u * i + 1u] = ACT(gy);
}
