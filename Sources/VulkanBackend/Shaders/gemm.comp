#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Batched C = alpha op(A) op(B) (+ bias per column): transposition is expressed as strides.
layout(binding = 0) readonly buffer MatrixA { ACT matrixA[]; };
layout(binding = 1) readonly buffer MatrixB { WGT matrixB[]; };
layout(binding = 2) readonly buffer Bias { ACT bias[]; };
layout(binding = 3) writeonly buffer MatrixC { ACT matrixC[]; };
layout(push_constant) uniform Parameters {
    uint m; uint n; uint k; uint aBatchStride; uint bBatchStride;
    uint aRowStride; uint aColumnStride; uint bRowStride; uint bColumnStride; float alpha; uint hasBias;
} p;

float loadA(uint batch, uint row, uint kk) {
    return float(matrixA[batch * p.aBatchStride + row * p.aRowStride + kk * p.aColumnStride]);
}
float loadB(uint batch, uint kk, uint column) {
    return float(matrixB[batch * p.bBatchStride + kk * p.bRowStride + column * p.bColumnStride]);
}
void storeC(uint batch, uint row, uint column, float sum) {
    float value = p.alpha * sum;
    if (p.hasBias != 0u) value += float(bias[column]);
    matrixC[(batch * p.m + row) * p.n + column] = ACT(value);
}

#include "gemm_tile.glsl"

void main() { multiplyTile(p.m, p.n, p.k); }
