#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// PyTorch interpolate (0 nearest, 1 bilinear, 2 bicubic) with its exact index arithmetic. Each output
// is summed in the CPU engine's separable order: per row tap the column taps from zero, then the rows
// weighted in turn; products are not fused, so both engines round alike.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Input { ACT x[]; };
layout(binding = 1) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters {
    uint count; uint inHeight; uint inWidth; uint outHeight; uint outWidth; uint mode; uint alignCorners;
    float scaleY; float scaleX;
} p;

float nearCubic(float v) { precise float r = ((-0.75 + 2.0) * v - (-0.75 + 3.0)) * v * v + 1.0; return r; }
float farCubic(float v) { precise float r = ((-0.75 * v - 5.0 * -0.75) * v + 8.0 * -0.75) * v - 4.0 * -0.75; return r; }

uint taps(uint dst, uint size, uint outSize, float scale, out int index[4], out float weight[4]) {
    if (p.mode == 0u) {
        if (outSize == size) index[0] = int(dst);
        else if (outSize == 2u * size) index[0] = int(dst / 2u);
        else {
            precise float position = float(dst) * scale;
            index[0] = min(int(floor(position)), int(size) - 1);
        }
        weight[0] = 1.0;
        return 1u;
    }
    precise float source = p.alignCorners != 0u ? scale * float(dst) : scale * (float(dst) + 0.5) - 0.5;
    if (p.mode == 1u) {
        source = max(source, 0.0);
        int i0 = min(int(source), int(size) - 1);
        precise float lambda = clamp(source - float(i0), 0.0, 1.0);
        index[0] = i0;
        index[1] = min(i0 + 1, int(size) - 1);
        weight[0] = 1.0 - lambda;
        weight[1] = lambda;
        return 2u;
    }
    int i = int(floor(source));
    precise float t = source - float(i);
    precise float oneMinus = 1.0 - t;
    weight[0] = farCubic(t + 1.0);
    weight[1] = nearCubic(t);
    weight[2] = nearCubic(oneMinus);
    weight[3] = farCubic(oneMinus + 1.0);
    for (int tap = 0; tap < 4; tap++) index[tap] = clamp(i - 1 + tap, 0, int(size) - 1);
    return 4u;
}

void main() {
    uint i = flatIndex();
    if (i >= p.count) return;
    uint ox = i % p.outWidth, oy = (i / p.outWidth) % p.outHeight, plane = i / (p.outWidth * p.outHeight);
    int rows[4], columns[4];
    float rowWeights[4], columnWeights[4];
    uint rowTaps = taps(oy, p.inHeight, p.outHeight, p.scaleY, rows, rowWeights);
    uint columnTaps = taps(ox, p.inWidth, p.outWidth, p.scaleX, columns, columnWeights);
    uint planeBase = plane * p.inHeight * p.inWidth;
    if (p.mode == 0u) {
        z[i] = x[planeBase + uint(rows[0]) * p.inWidth + uint(columns[0])];
        return;
    }
    precise float result = 0.0;
    for (uint r = 0u; r < rowTaps; r++) {
        precise float line = 0.0;
        uint rowBase = planeBase + uint(rows[r]) * p.inWidth;
        for (uint c = 0u; c < columnTaps; c++) line += columnWeights[c] * float(x[rowBase + uint(columns[c])]);
        if (r == 0u) result = rowWeights[0] * line;
        else result += rowWeights[r] * line;
    }
    z[i] = ACT(result);
}
