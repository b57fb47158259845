#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// avg_pool2d without padding (floor mode).
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Input { ACT x[]; };
layout(binding = 1) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters {
    uint count; uint height; uint width; uint outHeight; uint outWidth;
    uint kernelHeight; uint kernelWidth; uint strideY; uint strideX;
} p;

void main() {
    uint i = flatIndex();
    if (i >= p.count) return;
    uint ox = i % p.outWidth, oy = (i / p.outWidth) % p.outHeight, plane = i / (p.outWidth * p.outHeight);
    uint base = plane * p.height * p.width;
    precise float sum = 0.0;
    for (uint ky = 0u; ky < p.kernelHeight; ky++)
        for (uint kx = 0u; kx < p.kernelWidth; kx++)
            sum += float(x[base + (oy * p.strideY + ky) * p.width + ox * p.strideX + kx]);
    precise float mean = sum * (1.0 / float(p.kernelHeight * p.kernelWidth));
    z[i] = ACT(mean);
}
