#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// The activations (UnaryOperation, in its order): relu, silu, sigmoid, tanh, exp, sqrt, gelu (erf),
// geluTanh, quickGELU.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Input { ACT x[]; };
layout(binding = 1) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters { uint count; uint operation; } p;

float sigmoidOf(float v) { return 1.0 / (1.0 + exp(-v)); }

// erf by Abramowitz-Stegun 7.1.26's refinement: erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2),
// relative error below 1.2e-7 (the CPU engine uses the same fit).
float erfcOfMagnitude(float v) {
    float z = abs(v);
    float t = 1.0 / (1.0 + 0.5 * z);
    float q = 0.17087277;
    q = q * t - 0.82215223;
    q = q * t + 1.48851587;
    q = q * t - 1.13520398;
    q = q * t + 0.27886807;
    q = q * t - 0.18628806;
    q = q * t + 0.09678418;
    q = q * t + 0.37409196;
    q = q * t + 1.00002368;
    q = q * t - 1.26551223;
    return t * exp(q - z * z);
}

void main() {
    uint i = flatIndex();
    if (i >= p.count) return;
    float v = float(x[i]);
    float r;
    switch (p.operation) {
    case 0: r = v < 0.0 ? 0.0 : v; break; // NaN and -0 pass through, as clamp_min
    case 1: r = v / (1.0 + exp(-v)); break;
    case 2: r = sigmoidOf(v); break;
    case 3: r = tanh(v); break;
    case 4: r = exp(v); break;
    case 5: r = sqrt(v); break;
    case 6: {
        float complement = erfcOfMagnitude(v * 0.70710678118654752);
        r = 0.5 * v * (v > 0.0 ? 2.0 - complement : complement);
        break;
    }
    case 7: {
        float u = 0.79788456080286536 * (v + 0.044715 * v * v * v);
        r = v / (1.0 + exp(-2.0 * u));
        break;
    }
    default: r = v / (1.0 + exp(-1.702 * v)); break;
    }
    z[i] = ACT(r);
}
