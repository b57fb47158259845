#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduction.glsl"
// Softmax over rows, max-subtracted: one workgroup per row.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Input { ACT x[]; };
layout(binding = 1) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters { uint rows; uint rowLength; } p;

void main() {
    uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (row >= p.rows) return;
    uint base = row * p.rowLength, t = gl_LocalInvocationID.x;
    float largest = -1.0 / 0.0;
    for (uint i = t; i < p.rowLength; i += 256u) largest = max(largest, float(x[base + i]));
    largest = workgroupMax(largest);
    float total = 0.0;
    for (uint i = t; i < p.rowLength; i += 256u) total += exp(float(x[base + i]) - largest);
    total = workgroupSum(total);
    for (uint i = t; i < p.rowLength; i += 256u) z[base + i] = ACT(exp(float(x[base + i]) - largest) / total);
}
