#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// (1 - w) a + w b, in that form.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer A { ACT a[]; };
layout(binding = 1) readonly buffer B { ACT b[]; };
layout(binding = 2) readonly buffer Weight { ACT w[]; };
layout(binding = 3) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters { uint count; } p;

void main() {
    uint i = flatIndex();
    if (i >= p.count) return;
    float weight = float(w[i]);
    precise float first = (1.0 - weight) * float(a[i]);
    precise float second = weight * float(b[i]);
    precise float sum = first + second;
    z[i] = ACT(sum);
}
