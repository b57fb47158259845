#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Zero or replicate padding of planes.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Input { ACT x[]; };
layout(binding = 1) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters {
    uint count; uint height; uint width; int top; int left; uint outHeight; uint outWidth; uint replicate;
} p;

void main() {
    uint i = flatIndex();
    if (i >= p.count) return;
    uint ox = i % p.outWidth, oy = (i / p.outWidth) % p.outHeight, plane = i / (p.outWidth * p.outHeight);
    int y = int(oy) - p.top, x_ = int(ox) - p.left;
    if (p.replicate != 0u) {
        y = clamp(y, 0, int(p.height) - 1);
        x_ = clamp(x_, 0, int(p.width) - 1);
    } else if (y < 0 || y >= int(p.height) || x_ < 0 || x_ >= int(p.width)) {
        z[i] = ACT(0.0);
        return;
    }
    z[i] = x[(plane * p.height + uint(y)) * p.width + uint(x_)];
}
