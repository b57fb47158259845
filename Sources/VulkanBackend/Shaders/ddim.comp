#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// One DDIM step (eta 0): prediction 0 epsilon, 1 sample, 2 v-prediction; optional clipping of x0.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Sample { ACT sample_[]; };
layout(binding = 1) readonly buffer ModelOutput { ACT model[]; };
layout(binding = 2) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters {
    uint count; uint prediction; float sqrtAlpha; float sqrtBeta; float sqrtAlphaPrevious; float directionScale;
    uint clips; float clip;
} p;

void main() {
    uint i = flatIndex();
    if (i >= p.count) return;
    float x = float(sample_[i]), m = float(model[i]);
    precise float original, epsilon;
    if (p.prediction == 0u) {
        original = (x - p.sqrtBeta * m) / p.sqrtAlpha;
        epsilon = m;
    } else if (p.prediction == 1u) {
        original = m;
        epsilon = (x - p.sqrtAlpha * original) / p.sqrtBeta;
    } else {
        original = p.sqrtAlpha * x - p.sqrtBeta * m;
        epsilon = p.sqrtAlpha * m + p.sqrtBeta * x;
    }
    if (p.clips != 0u) original = clamp(original, -p.clip, p.clip);
    precise float result = p.sqrtAlphaPrevious * original + p.directionScale * epsilon;
    z[i] = ACT(result);
}
