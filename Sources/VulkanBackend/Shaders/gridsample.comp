#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// PyTorch grid_sample (2-D; mode 0 bilinear, 1 nearest; padding 0 zeros, 1 border), one invocation
// per output pixel looping over channels. Bilinear taps in PyTorch's order (NW, NE, SW, SE).
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Input { ACT x[]; };
layout(binding = 1) readonly buffer Grid { ACT grid[]; };
layout(binding = 2) writeonly buffer Output { ACT z[]; };
layout(push_constant) uniform Parameters {
    uint pixels; uint channels; uint inHeight; uint inWidth; uint outHeight; uint outWidth;
    uint mode; uint border; uint alignCorners;
} p;

float unnormalise(float v, uint size) {
    precise float c = p.alignCorners != 0u ? (v + 1.0) / 2.0 * float(size - 1u) : ((v + 1.0) * float(size) - 1.0) / 2.0;
    if (p.border != 0u) return isnan(c) ? 0.0 : clamp(c, 0.0, float(size - 1u));
    return (isnan(c) || isinf(c)) ? c : clamp(c, -2.0, float(size + 1u));
}

void main() {
    uint i = flatIndex();
    if (i >= p.pixels) return;
    uint outPlane = p.outHeight * p.outWidth, inPlane = p.inHeight * p.inWidth;
    uint n = i / outPlane, outIndex = i % outPlane;
    float gx = float(grid[2u * i]), gy = float(grid[2u * i + 1u]);
    float fx = unnormalise(gx, p.inWidth), fy = unnormalise(gy, p.inHeight);
    bool finite = !(isnan(fx) || isinf(fx) || isnan(fy) || isinf(fy));
    int width = int(p.inWidth), height = int(p.inHeight);
    if (p.mode == 1u) {
        int ix = finite ? int(roundEven(fx)) : -1, iy = finite ? int(roundEven(fy)) : -1;
        bool inside = ix >= 0 && ix < width && iy >= 0 && iy < height;
        for (uint c = 0u; c < p.channels; c++) {
            uint plane = n * p.channels + c;
            z[plane * outPlane + outIndex] = inside ? x[plane * inPlane + uint(iy) * p.inWidth + uint(ix)] : ACT(0.0);
        }
        return;
    }
    if (!finite) {
        for (uint c = 0u; c < p.channels; c++) z[(n * p.channels + c) * outPlane + outIndex] = ACT(0.0 / 0.0);
        return;
    }
    int x0 = int(floor(fx)), y0 = int(floor(fy));
    precise float tx = fx - float(x0), ty = fy - float(y0);
    precise float wNW = (1.0 - tx) * (1.0 - ty), wNE = tx * (1.0 - ty), wSW = (1.0 - tx) * ty, wSE = tx * ty;
    bool westInside = x0 >= 0 && x0 < width, eastInside = x0 + 1 >= 0 && x0 + 1 < width;
    bool northInside = y0 >= 0 && y0 < height, southInside = y0 + 1 >= 0 && y0 + 1 < height;
    for (uint c = 0u; c < p.channels; c++) {
        uint plane = n * p.channels + c;
        uint base = plane * inPlane;
        precise float v = 0.0;
        if (northInside) {
            uint row = base + uint(y0) * p.inWidth;
            if (westInside) v += float(x[row + uint(x0)]) * wNW;
            if (eastInside) v += float(x[row + uint(x0 + 1)]) * wNE;
        }
        if (southInside) {
            uint row = base + uint(y0 + 1) * p.inWidth;
            if (westInside) v += float(x[row + uint(x0)]) * wSW;
            if (eastInside) v += float(x[row + uint(x0 + 1)]) * wSE;
        }
        z[plane * outPlane + outIndex] = ACT(v);
    }
}
