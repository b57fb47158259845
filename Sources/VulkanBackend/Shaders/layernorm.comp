#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduction.glsl"
// Layer norm over rows: one workgroup per row, two-pass statistics, (x * inverseStd + shift) * w + b.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Input { ACT x[]; };
layout(binding = 1) readonly buffer Weight { ACT w[]; };
layout(binding = 2) readonly buffer Bias { ACT b[]; };
layout(binding = 3) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters { uint rows; uint rowLength; float epsilon; uint hasWeight; uint hasBias; } p;

void main() {
    uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (row >= p.rows) return;
    uint base = row * p.rowLength, t = gl_LocalInvocationID.x;
    float sum = 0.0;
    for (uint i = t; i < p.rowLength; i += 256u) sum += float(x[base + i]);
    float mean = workgroupSum(sum) / float(p.rowLength);
    float squares = 0.0;
    for (uint i = t; i < p.rowLength; i += 256u) {
        float d = float(x[base + i]) - mean;
        squares += d * d;
    }
    float inverseStd = inversesqrt(workgroupSum(squares) / float(p.rowLength) + p.epsilon);
    float shift = -mean * inverseStd;
    for (uint i = t; i < p.rowLength; i += 256u) {
        float v = float(x[base + i]) * inverseStd + shift;
        if (p.hasWeight != 0u) v *= float(w[i]);
        if (p.hasBias != 0u) v += float(b[i]);
        z[base + i] = ACT(v);
    }
}
