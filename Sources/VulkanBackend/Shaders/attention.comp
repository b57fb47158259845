#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduction.glsl"
// softmax(q kᵀ scale) v with an online softmax over tiles of 256 keys: one workgroup per (query,
// batch x head); the score matrix is never stored. The query row sits in shared memory; invocation t
// scores key t of the tile, then owns value channels t, t + 256, ... of the running output.
// Head widths up to 512 (queries/keys) and 512 (values).
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Query { ACT query[]; };
layout(binding = 1) readonly buffer Key { ACT key[]; };
layout(binding = 2) readonly buffer Value { ACT value[]; };
layout(binding = 3) writeonly buffer Output { ACT result[]; };
layout(push_constant) uniform Parameters {
    uint queryLength; uint keyLength; uint channels; uint valueChannels; uint heads; float scale; uint causal;
} p;

shared float queryRow[512];
shared float weights[256];

void main() {
    uint q = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (q >= p.queryLength) return;
    uint batch = gl_WorkGroupID.z / p.heads, head = gl_WorkGroupID.z % p.heads;
    uint headDim = p.channels / p.heads, valueHeadDim = p.valueChannels / p.heads;
    uint t = gl_LocalInvocationID.x;
    uint queryBase = (batch * p.queryLength + q) * p.channels + head * headDim;
    for (uint c = t; c < headDim; c += 256u) queryRow[c] = float(query[queryBase + c]);
    barrier();
    uint keys = p.causal != 0u ? min(p.keyLength, q + 1u) : p.keyLength;
    float runningMax = -1.0 / 0.0, runningSum = 0.0;
    float accumulator[2] = float[2](0.0, 0.0);
    for (uint tileStart = 0u; tileStart < keys; tileStart += 256u) {
        uint j = tileStart + t;
        float score = -1.0 / 0.0;
        if (j < keys) {
            uint keyBase = (batch * p.keyLength + j) * p.channels + head * headDim;
            float dot_ = 0.0;
            for (uint c = 0u; c < headDim; c++) dot_ += queryRow[c] * float(key[keyBase + c]);
            score = dot_ * p.scale;
        }
        float tileMax = workgroupMax(score);
        float newMax = max(runningMax, tileMax);
        float correction = exp(runningMax - newMax);
        float weight = j < keys ? exp(score - newMax) : 0.0;
        weights[t] = weight;
        runningSum = runningSum * correction + workgroupSum(weight);
        runningMax = newMax;
        barrier();
        uint tileKeys = min(256u, keys - tileStart);
        for (uint slot = 0u; slot < 2u; slot++) {
            uint c = t + 256u * slot;
            if (c >= valueHeadDim) break;
            float sum = 0.0;
            uint valueBase = (batch * p.keyLength + tileStart) * p.valueChannels + head * valueHeadDim + c;
            for (uint jj = 0u; jj < tileKeys; jj++) sum += weights[jj] * float(value[valueBase + jj * p.valueChannels]);
            accumulator[slot] = accumulator[slot] * correction + sum;
        }
        barrier();
    }
    uint outputBase = (batch * p.queryLength + q) * p.valueChannels + head * valueHeadDim;
    for (uint slot = 0u; slot < 2u; slot++) {
        uint c = t + 256u * slot;
        if (c < valueHeadDim) result[outputBase + c] = ACT(accumulator[slot] / runningSum);
    }
}
