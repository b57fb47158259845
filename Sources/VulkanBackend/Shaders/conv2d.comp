#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Convolution as an implicit GEMM: weight [outChannels, inChannels kh kw] times the im2col matrix,
// whose elements are gathered from the image as the tiles load (never materialised); one image per
// workgroup layer (z). Zero padding; bias per output channel.
layout(binding = 0) readonly buffer Input { ACT image[]; };
layout(binding = 1) readonly buffer Weight { WGT weight[]; };
layout(binding = 2) readonly buffer Bias { ACT bias[]; };
layout(binding = 3) writeonly buffer Output { ACT result[]; };
layout(push_constant) uniform Parameters {
    uint inChannels; uint height; uint width; uint outChannels; uint kernelHeight; uint kernelWidth;
    uint strideY; uint strideX; int paddingY; int paddingX; uint outHeight; uint outWidth; uint hasBias;
} p;

float loadA(uint batch, uint row, uint kk) {
    return float(weight[row * p.inChannels * p.kernelHeight * p.kernelWidth + kk]);
}
float loadB(uint batch, uint kk, uint column) {
    uint kx = kk % p.kernelWidth, ky = (kk / p.kernelWidth) % p.kernelHeight;
    uint channel = kk / (p.kernelWidth * p.kernelHeight);
    uint ox = column % p.outWidth, oy = column / p.outWidth;
    int y = int(oy * p.strideY + ky) - p.paddingY, x = int(ox * p.strideX + kx) - p.paddingX;
    if (y < 0 || y >= int(p.height) || x < 0 || x >= int(p.width)) return 0.0;
    return float(image[((batch * p.inChannels + channel) * p.height + uint(y)) * p.width + uint(x)]);
}
void storeC(uint batch, uint row, uint column, float sum) {
    float value = sum + (p.hasBias != 0u ? float(bias[row]) : 0.0);
    result[(batch * p.outChannels + row) * p.outHeight * p.outWidth + column] = ACT(value);
}

#include "gemm_tile.glsl"

void main() {
    multiplyTile(p.outChannels, p.outHeight * p.outWidth, p.inChannels * p.kernelHeight * p.kernelWidth);
}
