#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// RAFT's convex upsampling: fine pixel (f y + i, f x + j) is the softmax(mask[k f² + i f + j])-weighted
// sum over the 3x3 coarse neighbours k of f x the flow (zero outside). One invocation per fine pixel.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Flow { ACT flow[]; };
layout(binding = 1) readonly buffer Mask { ACT mask[]; };
layout(binding = 2) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters { uint count; uint height; uint width; uint factor; } p;

void main() {
    uint i = flatIndex();
    if (i >= p.count) return;
    uint f = p.factor, outWidth = p.width * f;
    uint fineX = i % outWidth, fineY = i / outWidth;
    uint x = fineX / f, y = fineY / f, subX = fineX % f, subY = fineY % f;
    uint pixels = p.height * p.width, ff = f * f;
    uint maskBase = (subY * f + subX) * pixels + y * p.width + x;
    float largest = -1.0 / 0.0;
    for (uint k = 0u; k < 9u; k++) largest = max(largest, float(mask[maskBase + k * ff * pixels]));
    float weights[9];
    float total = 0.0;
    for (uint k = 0u; k < 9u; k++) {
        weights[k] = exp(float(mask[maskBase + k * ff * pixels]) - largest);
        total += weights[k];
    }
    for (uint c = 0u; c < 2u; c++) {
        precise float sum = 0.0;
        for (uint k = 0u; k < 9u; k++) {
            int ny = int(y) + int(k / 3u) - 1, nx = int(x) + int(k % 3u) - 1;
            bool inside = ny >= 0 && ny < int(p.height) && nx >= 0 && nx < int(p.width);
            float neighbour = inside ? float(f) * float(flow[c * pixels + uint(ny) * p.width + uint(nx)]) : 0.0;
            sum += weights[k] / total * neighbour;
        }
        z[c * pixels * ff + i] = ACT(sum);
    }
}
