#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Inference batch norm with running statistics over [batch, channels, spatial].
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Input { ACT x[]; };
layout(binding = 1) readonly buffer Mean { ACT runningMean[]; };
layout(binding = 2) readonly buffer Variance { ACT runningVariance[]; };
layout(binding = 3) readonly buffer Weight { ACT w[]; };
layout(binding = 4) readonly buffer Bias { ACT b[]; };
layout(binding = 5) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters {
    uint count; uint channels; uint spatial; float epsilon; uint hasWeight; uint hasBias;
} p;

void main() {
    uint i = flatIndex();
    if (i >= p.count) return;
    uint c = (i / p.spatial) % p.channels;
    float inverseStd = 1.0 / sqrt(float(runningVariance[c]) + p.epsilon);
    float scale = inverseStd * (p.hasWeight != 0u ? float(w[c]) : 1.0);
    float shift = (p.hasBias != 0u ? float(b[c]) : 0.0) - float(runningMean[c]) * scale;
    z[i] = ACT(float(x[i]) * scale + shift);
}
