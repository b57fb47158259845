#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduction.glsl"
// Group norm over [batch, channels, spatial]: one workgroup per (image, group); mean, then the mean
// squared deviation (two passes), then x * scale + shift per channel. -DFUSE_SILU applies SiLU.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Input { ACT x[]; };
layout(binding = 1) readonly buffer Weight { ACT w[]; };
layout(binding = 2) readonly buffer Bias { ACT b[]; };
layout(binding = 3) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters {
    uint groups; uint channelsPerGroup; uint spatial; float epsilon; uint hasWeight; uint hasBias; uint silu;
} p;

void main() {
    uint row = gl_WorkGroupID.x, t = gl_LocalInvocationID.x;
    uint count = p.channelsPerGroup * p.spatial, base = row * count;
    float sum = 0.0;
    for (uint i = t; i < count; i += 256u) sum += float(x[base + i]);
    float mean = workgroupSum(sum) / float(count);
    float squares = 0.0;
    for (uint i = t; i < count; i += 256u) {
        float d = float(x[base + i]) - mean;
        squares += d * d;
    }
    float inverseStd = inversesqrt(workgroupSum(squares) / float(count) + p.epsilon);
    uint firstChannel = (row % p.groups) * p.channelsPerGroup;
    for (uint i = t; i < count; i += 256u) {
        uint channel = firstChannel + i / p.spatial;
        float scale = inverseStd * (p.hasWeight != 0u ? float(w[channel]) : 1.0);
        float shift = (p.hasBias != 0u ? float(b[channel]) : 0.0) - mean * scale;
        float v = float(x[base + i]) * scale + shift;
        if (p.silu != 0u) v = v / (1.0 + exp(-v));
        z[base + i] = ACT(v);
    }
}
