// Body of the CPU kernels, included once per instruction set by KernelsAVX512.c, KernelsAVX2.c and
// KernelsPortable.c. The includer defines
//   SDV_SUFFIX     the suffix of the exported names (avx512, avx2, portable),
//   SDV_TARGET     the function attribute selecting the instruction set (empty: the baseline),
//   SDV_WIDE_TILE  1 for the 8x32 SIMD16 micro-kernel, 0 for the 6x16 SIMD8 one.
// Every function here carries SDV_TARGET, so the GCC vector types below become zmm / ymm / xmm
// registers of that set; the helpers are static (one private copy per translation unit).
//
// GEMM: the GotoBLAS / BLIS loop nest (NC columns of B packed per block, KC rows of depth, MC rows
// of A), the packed panels feeding a register-blocked micro-kernel. Convolution: the same nest with
// B packed straight from the image (implicit im2col). Winograd F(2x2, 3x3) (Lavin & Gray, 2015):
// the weight, input and output transforms; CPUBackend runs the 16 GEMMs between them.

#include "CKernels.h"
#include <string.h>

// The vector helpers are static and always inlined: no vector crosses a call boundary, so the ABI
// difference the compiler warns about for 64-byte vectors in the AVX2 / baseline copies never arises.
#pragma clang diagnostic ignored "-Wpsabi"

#define SDV_CONCAT_(a, b) a##b
#define SDV_CONCAT(a, b) SDV_CONCAT_(a, b)
#define SDV_EXPORT(name) SDV_CONCAT(name, SDV_SUFFIX)
#define SDV_INLINE static inline __attribute__((always_inline)) SDV_TARGET
#define SDV_UNROLL _Pragma("clang loop unroll(full)")

typedef float v16f __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v16i __attribute__((vector_size(64)));
// Unaligned, aliasing views for loads and stores.
typedef float v16f_u __attribute__((vector_size(64), aligned(4), may_alias));
typedef float v8f_u __attribute__((vector_size(32), aligned(4), may_alias));
typedef float v4f_u __attribute__((vector_size(16), aligned(4), may_alias));

SDV_INLINE v16f load16(const float *p) { return *(const v16f_u *)p; }
SDV_INLINE void store16(float *p, v16f v) { *(v16f_u *)p = v; }
SDV_INLINE v8f load8(const float *p) { return *(const v8f_u *)p; }
SDV_INLINE void store8(float *p, v8f v) { *(v8f_u *)p = v; }
SDV_INLINE v16f splat16(float x) { return (v16f){} + x; }
SDV_INLINE v8f splat8(float x) { return (v8f){} + x; }

// MARK: Micro-kernels

#if SDV_WIDE_TILE
// 8 x 32 tile in 16 SIMD16 accumulators: 16 of the 32 zmm registers, leaving room for the two B
// vectors and the A broadcasts without spilling. Eight rows divide the UNet's channel counts.
typedef v16f tile_vector;
#define TILE_ROWS 8
#define TILE_COLUMNS 32
#define TILE_WIDTH 16
// Measured on Zen 4 (32 KB L1, 1 MB L2): a deep KC beats keeping the B micro-panel in L1.
#define DEPTH_BLOCK 512
#define ROW_BLOCK 96
#define COLUMN_BLOCK 1024
SDV_INLINE tile_vector tile_load(const float *p) { return load16(p); }
SDV_INLINE void tile_store(float *p, tile_vector v) { store16(p, v); }
SDV_INLINE tile_vector tile_splat(float x) { return splat16(x); }
#else
// 6 x 16 tile in 12 SIMD8 accumulators: the AVX2 (16 ymm registers) and NEON-sized counterpart.
typedef v8f tile_vector;
#define TILE_ROWS 6
#define TILE_COLUMNS 16
#define TILE_WIDTH 8
#define DEPTH_BLOCK 256
#define ROW_BLOCK 144
#define COLUMN_BLOCK 2048
SDV_INLINE tile_vector tile_load(const float *p) { return load8(p); }
SDV_INLINE void tile_store(float *p, tile_vector v) { store8(p, v); }
SDV_INLINE tile_vector tile_splat(float x) { return splat8(x); }
#endif

/// C tile = alpha * A.B + beta * C (+ rowBias[i]) from packed panels: A `depth x TILE_ROWS` (row index
/// fastest), B `depth x TILE_COLUMNS` (column index fastest). beta == 0 never reads C.
SDV_INLINE void micro_kernel(ptrdiff_t depth, const float *a, const float *b, float alpha, float beta,
                             const float *rowBias, float *c, ptrdiff_t ldc) {
    tile_vector low[TILE_ROWS], high[TILE_ROWS];
    SDV_UNROLL for (int i = 0; i < TILE_ROWS; i++) { low[i] = tile_splat(0); high[i] = tile_splat(0); }
    for (ptrdiff_t p = 0; p < depth; p++) {
        tile_vector b0 = tile_load(b), b1 = tile_load(b + TILE_WIDTH);
        SDV_UNROLL for (int i = 0; i < TILE_ROWS; i++) {
            tile_vector broadcast = tile_splat(a[i]);
            low[i] = low[i] + broadcast * b0;
            high[i] = high[i] + broadcast * b1;
        }
        a += TILE_ROWS;
        b += TILE_COLUMNS;
    }
    tile_vector scale = tile_splat(alpha);
    SDV_UNROLL for (int i = 0; i < TILE_ROWS; i++) {
        float *target = c + i * ldc;
        tile_vector first = low[i] * scale, second = high[i] * scale;
        if (beta != 0) {
            first = first + tile_splat(beta) * tile_load(target);
            second = second + tile_splat(beta) * tile_load(target + TILE_WIDTH);
        }
        if (rowBias) {
            first = first + rowBias[i];
            second = second + rowBias[i];
        }
        tile_store(target, first);
        tile_store(target + TILE_WIDTH, second);
    }
}

// MARK: Packing

/// Copies `count` floats and zero-fills up to `width` (short copies: no memmove call overhead).
SDV_INLINE void copy_padded(float *target, const float *source, ptrdiff_t count, ptrdiff_t width) {
    ptrdiff_t index = 0;
    for (; index + 16 <= count; index += 16) store16(target + index, load16(source + index));
    for (; index + 4 <= count; index += 4) *(v4f_u *)(target + index) = *(const v4f_u *)(source + index);
    for (; index < count; index++) target[index] = source[index];
    for (; index < width; index++) target[index] = 0;
}

/// Where packed B blocks come from: a strided matrix, or the implicit im2col matrix of a zero-padded
/// 2-D convolution read straight from the image (row channel*kh*kw + ky*kw + kx, column = output
/// pixel oy*outWidth + ox, shifted by `firstPixel`). Packing from the image avoids materialising
/// im2col (2 GB for 64 channels of 720p with a 3x3 kernel).
typedef struct {
    int isImage;
    const float *base;
    ptrdiff_t rowStride, columnStride;
    ptrdiff_t height, width, kernelHeight, kernelWidth, strideY, strideX, padY, padX, outWidth, firstPixel;
} panel_source;

/// Reads 8 rows of 8 contiguous floats (`sourceStride` apart) and writes their transpose as 8 rows of
/// 8 floats (`targetStride` apart): three rounds of two-source shuffles (unpack, 64-bit pairs, halves).
SDV_INLINE void transpose8x8(const float *source, ptrdiff_t sourceStride, float *target, ptrdiff_t targetStride) {
    v8f r0 = load8(source), r1 = load8(source + sourceStride), r2 = load8(source + 2 * sourceStride);
    v8f r3 = load8(source + 3 * sourceStride), r4 = load8(source + 4 * sourceStride);
    v8f r5 = load8(source + 5 * sourceStride), r6 = load8(source + 6 * sourceStride);
    v8f r7 = load8(source + 7 * sourceStride);
    v8f t0 = __builtin_shufflevector(r0, r1, 0, 8, 1, 9, 4, 12, 5, 13);
    v8f t1 = __builtin_shufflevector(r0, r1, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f t2 = __builtin_shufflevector(r2, r3, 0, 8, 1, 9, 4, 12, 5, 13);
    v8f t3 = __builtin_shufflevector(r2, r3, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f t4 = __builtin_shufflevector(r4, r5, 0, 8, 1, 9, 4, 12, 5, 13);
    v8f t5 = __builtin_shufflevector(r4, r5, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f t6 = __builtin_shufflevector(r6, r7, 0, 8, 1, 9, 4, 12, 5, 13);
    v8f t7 = __builtin_shufflevector(r6, r7, 2, 10, 3, 11, 6, 14, 7, 15);
    v8f s0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
    v8f s1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    v8f s2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
    v8f s3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
    v8f s4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
    v8f s5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
    v8f s6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
    v8f s7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
    store8(target, __builtin_shufflevector(s0, s4, 0, 1, 2, 3, 8, 9, 10, 11));
    store8(target + targetStride, __builtin_shufflevector(s1, s5, 0, 1, 2, 3, 8, 9, 10, 11));
    store8(target + 2 * targetStride, __builtin_shufflevector(s2, s6, 0, 1, 2, 3, 8, 9, 10, 11));
    store8(target + 3 * targetStride, __builtin_shufflevector(s3, s7, 0, 1, 2, 3, 8, 9, 10, 11));
    store8(target + 4 * targetStride, __builtin_shufflevector(s0, s4, 4, 5, 6, 7, 12, 13, 14, 15));
    store8(target + 5 * targetStride, __builtin_shufflevector(s1, s5, 4, 5, 6, 7, 12, 13, 14, 15));
    store8(target + 6 * targetStride, __builtin_shufflevector(s2, s6, 4, 5, 6, 7, 12, 13, 14, 15));
    store8(target + 7 * targetStride, __builtin_shufflevector(s3, s7, 4, 5, 6, 7, 12, 13, 14, 15));
}

/// A panel of a B stored transposed (B(p, j) = base[j * columnStride + p], a linear layer's [out, in]
/// weight): 8x8 blocks transposed in registers, the ragged edges element by element.
SDV_INLINE void pack_transposed_panel(const float *source, ptrdiff_t columnStride, ptrdiff_t depth, ptrdiff_t columns,
                                      float *panel) {
    ptrdiff_t fullColumns = columns / 8 * 8, fullDepth = depth / 8 * 8;
    for (ptrdiff_t j = 0; j < fullColumns; j += 8)
        for (ptrdiff_t p = 0; p < fullDepth; p += 8)
            transpose8x8(source + j * columnStride + p, columnStride, panel + p * TILE_COLUMNS + j, TILE_COLUMNS);
    for (ptrdiff_t j = 0; j < columns; j++) {
        const float *column = source + j * columnStride;
        for (ptrdiff_t p = j < fullColumns ? fullDepth : 0; p < depth; p++) panel[p * TILE_COLUMNS + j] = column[p];
    }
}

SDV_INLINE void pack_strided(const panel_source *s, ptrdiff_t firstRow, ptrdiff_t depth, ptrdiff_t firstColumn,
                             ptrdiff_t width, float *target) {
    for (ptrdiff_t panelStart = 0; panelStart < width; panelStart += TILE_COLUMNS) {
        ptrdiff_t columns = width - panelStart < TILE_COLUMNS ? width - panelStart : TILE_COLUMNS;
        float *panel = target + panelStart * depth;
        const float *source = s->base + firstRow * s->rowStride + (firstColumn + panelStart) * s->columnStride;
        if (s->rowStride == 1 && s->columnStride != 1) {
            pack_transposed_panel(source, s->columnStride, depth, columns, panel);
            if (columns < TILE_COLUMNS)
                for (ptrdiff_t p = 0; p < depth; p++)
                    memset(panel + p * TILE_COLUMNS + columns, 0, sizeof(float) * (TILE_COLUMNS - columns));
        } else if (s->columnStride == 1) {
            for (ptrdiff_t p = 0; p < depth; p++)
                copy_padded(panel + p * TILE_COLUMNS, source + p * s->rowStride, columns, TILE_COLUMNS);
        } else {
            for (ptrdiff_t j = 0; j < columns; j++) {
                const float *column = source + j * s->columnStride;
                for (ptrdiff_t p = 0; p < depth; p++) panel[p * TILE_COLUMNS + j] = column[p * s->rowStride];
            }
            if (columns < TILE_COLUMNS)
                for (ptrdiff_t p = 0; p < depth; p++)
                    memset(panel + p * TILE_COLUMNS + columns, 0, sizeof(float) * (TILE_COLUMNS - columns));
        }
    }
}

/// One row segment of output pixels (outY, outX...outX+length) of an im2col panel.
SDV_INLINE void pack_image_segment(const panel_source *s, float *target, ptrdiff_t outY, ptrdiff_t outX,
                                   ptrdiff_t length, ptrdiff_t firstRow, ptrdiff_t depth) {
    ptrdiff_t taps = s->kernelHeight * s->kernelWidth;
    ptrdiff_t channel = firstRow / taps;
    ptrdiff_t ky = (firstRow % taps) / s->kernelWidth, kx = firstRow % s->kernelWidth;
    ptrdiff_t baseY = outY * s->strideY - s->padY, baseX = outX * s->strideX - s->padX;
    ptrdiff_t plane = s->height * s->width;
    for (ptrdiff_t p = 0; p < depth; p++) {
        float *out = target + p * TILE_COLUMNS;
        ptrdiff_t inY = baseY + ky;
        if (inY < 0 || inY >= s->height) {
            memset(out, 0, sizeof(float) * length);
        } else {
            const float *row = s->base + channel * plane + inY * s->width;
            ptrdiff_t firstX = baseX + kx;
            if (s->strideX == 1) {
                ptrdiff_t low = -firstX > 0 ? -firstX : 0;
                if (low > length) low = length;
                ptrdiff_t high = s->width - firstX < length ? s->width - firstX : length;
                if (high < low) high = low;
                if (low > 0) memset(out, 0, sizeof(float) * low);
                copy_padded(out + low, row + firstX + low, high - low, high - low);
                if (high < length) memset(out + high, 0, sizeof(float) * (length - high));
            } else {
                for (ptrdiff_t t = 0; t < length; t++) {
                    ptrdiff_t x = firstX + t * s->strideX;
                    out[t] = (x >= 0 && x < s->width) ? row[x] : 0;
                }
            }
        }
        if (++kx == s->kernelWidth) {
            kx = 0;
            if (++ky == s->kernelHeight) {
                ky = 0;
                channel++;
            }
        }
    }
}

SDV_INLINE void pack_image(const panel_source *s, ptrdiff_t firstRow, ptrdiff_t depth, ptrdiff_t firstColumn,
                           ptrdiff_t width, float *target) {
    for (ptrdiff_t panelStart = 0; panelStart < width; panelStart += TILE_COLUMNS) {
        ptrdiff_t columns = width - panelStart < TILE_COLUMNS ? width - panelStart : TILE_COLUMNS;
        float *panel = target + panelStart * depth;
        // A panel's pixels may wrap onto following output rows: fill it one row segment at a time.
        ptrdiff_t pixel = s->firstPixel + firstColumn + panelStart;
        ptrdiff_t outY = pixel / s->outWidth, outX = pixel % s->outWidth;
        for (ptrdiff_t filled = 0; filled < columns;) {
            ptrdiff_t length = columns - filled < s->outWidth - outX ? columns - filled : s->outWidth - outX;
            pack_image_segment(s, panel + filled, outY, outX, length, firstRow, depth);
            filled += length;
            outX = 0;
            outY++;
        }
        if (columns < TILE_COLUMNS)
            for (ptrdiff_t p = 0; p < depth; p++)
                memset(panel + p * TILE_COLUMNS + columns, 0, sizeof(float) * (TILE_COLUMNS - columns));
    }
}

/// Packs a `rows x depth` block of A into panels of TILE_ROWS rows (`depth x TILE_ROWS` each),
/// writing each panel sequentially (the reads stride over the rows instead).
SDV_INLINE void pack_a(const float *a, ptrdiff_t rowStride, ptrdiff_t columnStride, ptrdiff_t rows, ptrdiff_t depth,
                       float *target) {
    for (ptrdiff_t panelStart = 0; panelStart < rows; panelStart += TILE_ROWS) {
        ptrdiff_t height = rows - panelStart < TILE_ROWS ? rows - panelStart : TILE_ROWS;
        float *out = target + panelStart * depth;
        const float *first = a + panelStart * rowStride;
        if (height == TILE_ROWS) {
            for (ptrdiff_t p = 0; p < depth; p++, out += TILE_ROWS) {
                const float *column = first + p * columnStride;
                SDV_UNROLL for (int i = 0; i < TILE_ROWS; i++) out[i] = column[i * rowStride];
            }
        } else {
            for (ptrdiff_t p = 0; p < depth; p++, out += TILE_ROWS) {
                const float *column = first + p * columnStride;
                for (ptrdiff_t i = 0; i < height; i++) out[i] = column[i * rowStride];
                for (ptrdiff_t i = height; i < TILE_ROWS; i++) out[i] = 0;
            }
        }
    }
}

// MARK: GEMM

#define WORKSPACE_FLOATS (ROW_BLOCK * DEPTH_BLOCK + DEPTH_BLOCK * COLUMN_BLOCK + TILE_ROWS * TILE_COLUMNS + 64)

SDV_TARGET ptrdiff_t SDV_EXPORT(sdv_workspace_count_)(void) { return WORKSPACE_FLOATS; }
SDV_TARGET ptrdiff_t SDV_EXPORT(sdv_vector_width_)(void) { return TILE_WIDTH; }

SDV_INLINE void blocked_gemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a, ptrdiff_t aRowStride,
                             ptrdiff_t aColumnStride, const panel_source *b, float beta, const float *rowBias, float *c,
                             ptrdiff_t ldc, float *workspace) {
    float *packedA = workspace;
    float *packedB = workspace + ROW_BLOCK * DEPTH_BLOCK;
    float *edgeTile = packedB + DEPTH_BLOCK * COLUMN_BLOCK;
    // Equal depth blocks (576 = 2 x 288, not 512 + 64): a thin last block would cost a full extra pass
    // over C for little work.
    ptrdiff_t depthBlocks = (k + DEPTH_BLOCK - 1) / DEPTH_BLOCK;
    ptrdiff_t depthBlock = (k + depthBlocks - 1) / depthBlocks;
    for (ptrdiff_t columnStart = 0; columnStart < n; columnStart += COLUMN_BLOCK) {
        ptrdiff_t columnCount = n - columnStart < COLUMN_BLOCK ? n - columnStart : COLUMN_BLOCK;
        ptrdiff_t depthStart = 0;
        do {
            ptrdiff_t depth = k - depthStart < depthBlock ? k - depthStart : depthBlock;
            // Later depth blocks accumulate onto the first one's result.
            float blockBeta = depthStart == 0 ? beta : 1;
            const float *blockBias = depthStart == 0 ? rowBias : NULL;
            if (b->isImage)
                pack_image(b, depthStart, depth, columnStart, columnCount, packedB);
            else
                pack_strided(b, depthStart, depth, columnStart, columnCount, packedB);
            for (ptrdiff_t rowStart = 0; rowStart < m; rowStart += ROW_BLOCK) {
                ptrdiff_t rowCount = m - rowStart < ROW_BLOCK ? m - rowStart : ROW_BLOCK;
                pack_a(a + rowStart * aRowStride + depthStart * aColumnStride, aRowStride, aColumnStride, rowCount,
                       depth, packedA);
                for (ptrdiff_t tileColumn = 0; tileColumn < columnCount; tileColumn += TILE_COLUMNS) {
                    ptrdiff_t tileWidth = columnCount - tileColumn < TILE_COLUMNS ? columnCount - tileColumn : TILE_COLUMNS;
                    const float *bPanel = packedB + tileColumn * depth;
                    for (ptrdiff_t tileRow = 0; tileRow < rowCount; tileRow += TILE_ROWS) {
                        ptrdiff_t tileHeight = rowCount - tileRow < TILE_ROWS ? rowCount - tileRow : TILE_ROWS;
                        const float *aPanel = packedA + tileRow * depth;
                        ptrdiff_t row = rowStart + tileRow;
                        float *tile = c + row * ldc + columnStart + tileColumn;
                        const float *bias = blockBias ? blockBias + row : NULL;
                        if (tileHeight == TILE_ROWS && tileWidth == TILE_COLUMNS) {
                            micro_kernel(depth, aPanel, bPanel, alpha, blockBeta, bias, tile, ldc);
                        } else {
                            micro_kernel(depth, aPanel, bPanel, alpha, 0, bias, edgeTile, TILE_COLUMNS);
                            for (ptrdiff_t i = 0; i < tileHeight; i++)
                                for (ptrdiff_t j = 0; j < tileWidth; j++) {
                                    float value = edgeTile[i * TILE_COLUMNS + j];
                                    float *target = tile + i * ldc + j;
                                    *target = blockBeta == 0 ? value : value + blockBeta * *target;
                                }
                        }
                    }
                }
            }
            depthStart += depth;
        } while (depthStart < k);
    }
}

SDV_TARGET void SDV_EXPORT(sdv_gemm_)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a,
                                      ptrdiff_t aRowStride, ptrdiff_t aColumnStride, const float *b,
                                      ptrdiff_t bRowStride, ptrdiff_t bColumnStride, float beta,
                                      const float *rowBias, float *c, ptrdiff_t ldc, float *workspace) {
    panel_source source = {.isImage = 0, .base = b, .rowStride = bRowStride, .columnStride = bColumnStride};
    blocked_gemm(m, n, k, alpha, a, aRowStride, aColumnStride, &source, beta, rowBias, c, ldc, workspace);
}

SDV_TARGET void SDV_EXPORT(sdv_convolution_gemm_)(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *weights,
                                                  const float *input, ptrdiff_t height, ptrdiff_t width,
                                                  ptrdiff_t kernelHeight, ptrdiff_t kernelWidth, ptrdiff_t strideY,
                                                  ptrdiff_t strideX, ptrdiff_t padY, ptrdiff_t padX,
                                                  ptrdiff_t outWidth, ptrdiff_t firstPixel, const float *rowBias,
                                                  float *c, ptrdiff_t ldc, float *workspace) {
    panel_source source = {.isImage = 1, .base = input, .height = height, .width = width,
                           .kernelHeight = kernelHeight, .kernelWidth = kernelWidth, .strideY = strideY,
                           .strideX = strideX, .padY = padY, .padX = padX, .outWidth = outWidth,
                           .firstPixel = firstPixel};
    blocked_gemm(m, n, k, 1, weights, k, 1, &source, 0, rowBias, c, ldc, workspace);
}

// MARK: Winograd F(2x2, 3x3)
// Layouts: U is [16][outChannels][inChannels]. A band of `tileRows` rows of `tilesX` tiles is
// V [16][inChannels][bandTiles] and the GEMM result M [16][outChannels][bandTiles], where xi = 4i + j
// indexes the 4x4 tile (row i, column j). Both tile transforms work on 16 neighbouring tiles at once.

/// Stores the first `count` lanes of `value`.
SDV_INLINE void store_prefix(float *target, v16f value, ptrdiff_t count) {
    if (count == 16) {
        store16(target, value);
    } else {
        float lanes[16];
        store16(lanes, value);
        for (ptrdiff_t lane = 0; lane < count; lane++) target[lane] = lanes[lane];
    }
}

/// U = G g G^T with G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]; 16 input channels at
/// a time, so that every store is a contiguous run of U.
SDV_TARGET void SDV_EXPORT(sdv_winograd_weight_transform_)(const float *weights, ptrdiff_t firstOut,
                                                           ptrdiff_t endOut, ptrdiff_t outChannelCount,
                                                           ptrdiff_t inChannels, float *transformed) {
    ptrdiff_t plane = outChannelCount * inChannels;
    for (ptrdiff_t output = firstOut; output < endOut; output++) {
        for (ptrdiff_t input = 0; input < inChannels; input += 16) {
            ptrdiff_t count = inChannels - input < 16 ? inChannels - input : 16;
            const float *kernels = weights + (output * inChannels + input) * 9;
            v16f g[9];
            for (int tap = 0; tap < 9; tap++) {
                float lanes[16] = {0};
                for (ptrdiff_t lane = 0; lane < count; lane++) lanes[lane] = kernels[lane * 9 + tap];
                g[tap] = load16(lanes);
            }
            float *target = transformed + output * inChannels + input;
            // Row r of G g, then the same combination along it: U[r][0...3].
            v16f rows[4][3] = {
                {g[0], g[1], g[2]},
                {(g[0] + g[3] + g[6]) * 0.5f, (g[1] + g[4] + g[7]) * 0.5f, (g[2] + g[5] + g[8]) * 0.5f},
                {(g[0] - g[3] + g[6]) * 0.5f, (g[1] - g[4] + g[7]) * 0.5f, (g[2] - g[5] + g[8]) * 0.5f},
                {g[6], g[7], g[8]},
            };
            for (int r = 0; r < 4; r++) {
                v16f u0 = rows[r][0], u1 = rows[r][1], u2 = rows[r][2];
                store_prefix(target + (4 * r) * plane, u0, count);
                store_prefix(target + (4 * r + 1) * plane, (u0 + u1 + u2) * 0.5f, count);
                store_prefix(target + (4 * r + 2) * plane, (u0 - u1 + u2) * 0.5f, count);
                store_prefix(target + (4 * r + 3) * plane, u2, count);
            }
        }
    }
}

/// Splits input row y into even and odd columns shifted by the padding: even[k] = x(2k - 1),
/// odd[k] = x(2k), so tile tx reads even[tx], odd[tx], even[tx + 1], odd[tx + 1]: all contiguous.
SDV_INLINE void split_row(const float *image, ptrdiff_t y, ptrdiff_t height, ptrdiff_t width, ptrdiff_t tilesX,
                          float *even, float *odd) {
    if (y < 0 || y >= height) {
        memset(even, 0, sizeof(float) * (tilesX + 1));
        memset(odd, 0, sizeof(float) * (tilesX + 1));
        return;
    }
    const float *row = image + y * width;
    even[0] = 0;
    for (ptrdiff_t k = 0; k < tilesX; k++) {
        odd[k] = row[2 * k];
        even[k + 1] = 2 * k + 1 < width ? row[2 * k + 1] : 0;
    }
    odd[tilesX] = 0;
}

/// V = B^T d B, B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]. Tile (ty, tx) covers
/// input rows 2ty-1...2ty+2, columns 2tx-1...2tx+2; four split rows are kept in a ring, consecutive
/// tile rows sharing two of them.
SDV_TARGET void SDV_EXPORT(sdv_winograd_input_transform_)(const float *input, ptrdiff_t height, ptrdiff_t width,
                                                          ptrdiff_t firstChannel, ptrdiff_t endChannel,
                                                          ptrdiff_t inChannels, ptrdiff_t firstTileRow,
                                                          ptrdiff_t tileRows, ptrdiff_t tilesX, float *transformed,
                                                          float *scratch) {
    ptrdiff_t bandTiles = tileRows * tilesX;
    ptrdiff_t plane = inChannels * bandTiles;
    ptrdiff_t rowLength = tilesX + 32;
#define EVEN(slot) (scratch + (2 * (slot)) * rowLength)
#define ODD(slot) (scratch + (2 * (slot) + 1) * rowLength)
    memset(scratch, 0, sizeof(float) * 8 * rowLength);
    for (ptrdiff_t channel = firstChannel; channel < endChannel; channel++) {
        const float *image = input + channel * height * width;
        ptrdiff_t firstY = 2 * firstTileRow - 1;
        split_row(image, firstY, height, width, tilesX, EVEN(0), ODD(0));
        split_row(image, firstY + 1, height, width, tilesX, EVEN(1), ODD(1));
        for (ptrdiff_t localRow = 0; localRow < tileRows; localRow++) {
            ptrdiff_t y0 = firstY + 2 * localRow;
            split_row(image, y0 + 2, height, width, tilesX, EVEN((2 * localRow + 2) % 4), ODD((2 * localRow + 2) % 4));
            split_row(image, y0 + 3, height, width, tilesX, EVEN((2 * localRow + 3) % 4), ODD((2 * localRow + 3) % 4));
            const float *even[4], *odd[4];
            for (int r = 0; r < 4; r++) {
                even[r] = EVEN((2 * localRow + r) % 4);
                odd[r] = ODD((2 * localRow + r) % 4);
            }
            float *target = transformed + channel * bandTiles + localRow * tilesX;
            for (ptrdiff_t tx = 0; tx < tilesX; tx += 16) {
                ptrdiff_t count = tilesX - tx < 16 ? tilesX - tx : 16;
                // d B along each of the four rows: (a - c, b + c, c - b, b - d) for columns a b c d.
                v16f rows[4][4];
                SDV_UNROLL for (int r = 0; r < 4; r++) {
                    v16f a = load16(even[r] + tx), b = load16(odd[r] + tx);
                    v16f c = load16(even[r] + tx + 1), d = load16(odd[r] + tx + 1);
                    rows[r][0] = a - c;
                    rows[r][1] = b + c;
                    rows[r][2] = c - b;
                    rows[r][3] = b - d;
                }
                // B^T (d B) down the columns.
                SDV_UNROLL for (int j = 0; j < 4; j++) {
                    v16f x0 = rows[0][j], x1 = rows[1][j], x2 = rows[2][j], x3 = rows[3][j];
                    store_prefix(target + j * plane + tx, x0 - x2, count);
                    store_prefix(target + (4 + j) * plane + tx, x1 + x2, count);
                    store_prefix(target + (8 + j) * plane + tx, x2 - x1, count);
                    store_prefix(target + (12 + j) * plane + tx, x1 - x3, count);
                }
            }
        }
    }
#undef EVEN
#undef ODD
}

/// Writes even[t], odd[t] to columns 2t, 2t + 1 for `tiles` tiles, at most `columns` values.
SDV_INLINE void store_interleaved(float *target, v16f even, v16f odd, ptrdiff_t tiles, ptrdiff_t columns) {
    if (tiles == 16 && columns >= 32) {
        store16(target, __builtin_shufflevector(even, odd, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
        store16(target + 16,
                __builtin_shufflevector(even, odd, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31));
        return;
    }
    float evenLanes[16], oddLanes[16];
    store16(evenLanes, even);
    store16(oddLanes, odd);
    for (ptrdiff_t lane = 0; lane < tiles; lane++) {
        if (2 * lane < columns) target[2 * lane] = evenLanes[lane];
        if (2 * lane + 1 < columns) target[2 * lane + 1] = oddLanes[lane];
    }
}

/// Y = A^T M A + bias, A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]; tiles that overhang an odd height or
/// width drop their last row or column.
SDV_TARGET void SDV_EXPORT(sdv_winograd_output_transform_)(const float *products, ptrdiff_t firstChannel,
                                                           ptrdiff_t endChannel, ptrdiff_t outChannels,
                                                           ptrdiff_t firstTileRow, ptrdiff_t tileRows,
                                                           ptrdiff_t tilesX, const float *bias, float *output,
                                                           ptrdiff_t height, ptrdiff_t width) {
    ptrdiff_t bandTiles = tileRows * tilesX;
    ptrdiff_t plane = outChannels * bandTiles;
    for (ptrdiff_t channel = firstChannel; channel < endChannel; channel++) {
        v16f offset = splat16(bias ? bias[channel] : 0);
        float *image = output + channel * height * width;
        for (ptrdiff_t localRow = 0; localRow < tileRows; localRow++) {
            ptrdiff_t y = 2 * (firstTileRow + localRow);
            float *top = image + y * width;
            float *bottom = y + 1 < height ? top + width : NULL;
            const float *source = products + channel * bandTiles + localRow * tilesX;
            for (ptrdiff_t tx = 0; tx < tilesX; tx += 16) {
                v16f m[16];
                SDV_UNROLL for (int xi = 0; xi < 16; xi++) m[xi] = load16(source + xi * plane + tx);
                // A^T M: two rows of four; then (.) A along each.
                v16f s00 = m[0] + m[4] + m[8], s01 = m[1] + m[5] + m[9];
                v16f s02 = m[2] + m[6] + m[10], s03 = m[3] + m[7] + m[11];
                v16f s10 = m[4] - m[8] - m[12], s11 = m[5] - m[9] - m[13];
                v16f s12 = m[6] - m[10] - m[14], s13 = m[7] - m[11] - m[15];
                v16f y00 = s00 + s01 + s02 + offset, y01 = s01 - s02 - s03 + offset;
                v16f y10 = s10 + s11 + s12 + offset, y11 = s11 - s12 - s13 + offset;
                ptrdiff_t count = tilesX - tx < 16 ? tilesX - tx : 16;
                store_interleaved(top + 2 * tx, y00, y01, count, width - 2 * tx);
                if (bottom) store_interleaved(bottom + 2 * tx, y10, y11, count, width - 2 * tx);
            }
        }
    }
}

// MARK: Softmax and exp

/// Lane-wise max / min from the sign of the difference, in integer operations (not for NaN inputs).
SDV_INLINE v16f lanewise_max(v16f a, v16f b) {
    v16i aLess = (v16i)(a - b) >> 31;
    return (v16f)(((v16i)a & ~aLess) | ((v16i)b & aLess));
}

SDV_INLINE v16f lanewise_min(v16f a, v16f b) {
    v16i aLess = (v16i)(a - b) >> 31;
    return (v16f)(((v16i)a & aLess) | ((v16i)b & ~aLess));
}

/// e^x for 16 lanes: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, degree-6 minimax polynomial (the
/// Cephes expf coefficients, ~1 ulp), scaled by 2^n through the exponent bits in two halves, so that
/// n down to -150 rounds into the subnormals and on to exactly 0 (x = -inf gives 0) and n = 128
/// overflows to +inf.
SDV_INLINE v16f exp16(v16f x) {
    v16f clamped = lanewise_min(lanewise_max(x, splat16(-104)), splat16(89));
    // Adding 1.5 * 2^23 rounds to the nearest integer and leaves it in the low mantissa bits.
    v16f shifter = splat16(12582912.0f);
    v16f shifted = clamped * 1.44269504f + shifter;
    v16f n = shifted - shifter;
    v16f r = clamped - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    v16f p = splat16(1.9875691e-4f);
    p = p * r + 1.3981999e-3f;
    p = p * r + 8.3334520e-3f;
    p = p * r + 4.1665796e-2f;
    p = p * r + 1.6666665e-1f;
    p = p * r + 5.0000001e-1f;
    p = p * (r * r) + r + 1.0f;
    v16i integer = (v16i)shifted - (v16i)shifter;
    v16i half = integer >> 1;
    v16f scaleLow = (v16f)((half + 127) << 23);
    v16f scaleHigh = (v16f)((integer - half + 127) << 23);
    return p * scaleLow * scaleHigh;
}

SDV_INLINE float exp1(float x) {
    float lanes[16];
    store16(lanes, exp16(splat16(x)));
    return lanes[0];
}

SDV_INLINE float horizontal_max(v16f v) {
    float lanes[16], maximum = -__builtin_inff();
    store16(lanes, v);
    for (int lane = 0; lane < 16; lane++) maximum = lanes[lane] > maximum ? lanes[lane] : maximum;
    return maximum;
}

SDV_INLINE float horizontal_sum(v16f v) {
    float lanes[16], sum = 0;
    store16(lanes, v);
    for (int lane = 0; lane < 16; lane++) sum += lanes[lane];
    return sum;
}

SDV_TARGET void SDV_EXPORT(sdv_softmax_row_)(float *row, ptrdiff_t count) {
    v16f maxima = splat16(-__builtin_inff());
    ptrdiff_t index = 0;
    for (; index + 16 <= count; index += 16) maxima = lanewise_max(maxima, load16(row + index));
    float maximum = horizontal_max(maxima);
    for (; index < count; index++) maximum = row[index] > maximum ? row[index] : maximum;
    if (!(maximum > -__builtin_inff())) {
        // A fully masked row: PyTorch's softmax yields NaN there, keep that visible.
        for (index = 0; index < count; index++) row[index] = __builtin_nanf("");
        return;
    }
    v16f shift = splat16(maximum), sums = splat16(0);
    for (index = 0; index + 16 <= count; index += 16) {
        v16f e = exp16(load16(row + index) - shift);
        store16(row + index, e);
        sums = sums + e;
    }
    float sum = horizontal_sum(sums);
    for (; index < count; index++) {
        float e = exp1(row[index] - maximum);
        row[index] = e;
        sum += e;
    }
    float inverse = 1 / sum;
    for (index = 0; index + 16 <= count; index += 16) store16(row + index, load16(row + index) * inverse);
    for (; index < count; index++) row[index] *= inverse;
}

SDV_TARGET void SDV_EXPORT(sdv_exp_)(float *values, ptrdiff_t count) {
    ptrdiff_t index = 0;
    for (; index + 16 <= count; index += 16) store16(values + index, exp16(load16(values + index)));
    for (; index < count; index++) values[index] = exp1(values[index]);
}

// MARK: Conversions (the checkpoint reader's bulk path): branch-free, so the loops vectorise.

SDV_INLINE float float_from_bits(uint32_t bits) {
    float value;
    memcpy(&value, &bits, 4);
    return value;
}

SDV_INLINE uint32_t bits_from_float(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    return bits;
}

/// IEEE half -> float, exact for every value: the magnitude moved into float position and rebiased;
/// infinities and NaNs get the full exponent (NaNs quietened, as the hardware conversion does);
/// subnormals and zero rebuilt exactly through one float subtraction.
SDV_INLINE float half_to_float(uint16_t half) {
    uint32_t magnitude = (uint32_t)(half & 0x7fff) << 13;
    uint32_t exponent = magnitude & 0x0f800000u;
    uint32_t normal = magnitude + ((127 - 15) << 23);
    uint32_t special = (normal + ((128 - 16) << 23)) | ((magnitude & 0x007fe000u) != 0 ? 0x00400000u : 0);
    uint32_t small = bits_from_float(float_from_bits(normal + (1 << 23)) - float_from_bits(113u << 23));
    uint32_t bits = exponent == 0x0f800000u ? special : exponent == 0 ? small : normal;
    return float_from_bits(bits | (uint32_t)(half & 0x8000) << 16);
}

SDV_TARGET void SDV_EXPORT(sdv_half_to_float_)(const uint16_t *source, float *target, ptrdiff_t count) {
    for (ptrdiff_t i = 0; i < count; i++) target[i] = half_to_float(source[i]);
}

SDV_TARGET void SDV_EXPORT(sdv_bfloat16_to_float_)(const uint16_t *source, float *target, ptrdiff_t count) {
    for (ptrdiff_t i = 0; i < count; i++) target[i] = float_from_bits((uint32_t)source[i] << 16);
}

// MARK: Activations (16 lanes at a time; a tail goes through a zero-padded block)

SDV_INLINE v16f select16(v16i mask, v16f ifTrue, v16f ifFalse) {
    return (v16f)(((v16i)ifTrue & mask) | ((v16i)ifFalse & ~mask));
}

/// 1 - erf(|x|) by the Chebyshev fit erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2) (relative error
/// below 1.2e-7 over the whole tail): computing the complement directly keeps GELU's negative tail
/// accurate instead of cancelling in 1 + erf.
SDV_INLINE v16f erfc_of_magnitude(v16f x) {
    v16f z = (v16f)((v16i)x & 0x7fffffff);
    v16f t = 1.0f / (1.0f + 0.5f * z);
    v16f p = splat16(0.17087277f);
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    return t * exp16(p - z * z);
}

/// tanh as Cephes' tanhf: an odd polynomial below |x| = 0.625, 1 - 2 / (e^(2|x|) + 1) with x's sign above.
SDV_INLINE v16f tanh16(v16f x) {
    v16i sign = (v16i)x & (int32_t)0x80000000;
    v16f magnitude = (v16f)((v16i)x & 0x7fffffff);
    v16f square = x * x;
    v16f p = splat16(-5.70498872745e-3f);
    p = p * square + 2.06390887954e-2f;
    p = p * square - 5.37397155531e-2f;
    p = p * square + 1.33314422036e-1f;
    p = p * square - 3.33332819422e-1f;
    v16f small = p * square * x + x;
    v16f large = 1.0f - 2.0f / (exp16(2.0f * magnitude) + 1.0f);
    // Both forms with x's sign (the polynomial would turn -0 into +0).
    return (v16f)((v16i)select16(magnitude < 0.625f, (v16f)((v16i)small & 0x7fffffff), large) | sign);
}

SDV_INLINE v16f activation16(int32_t activation, v16f x) {
    v16f y;
    switch (activation) {
    case SDV_ACTIVATION_RELU: return select16(x < 0.0f, splat16(0), x);
    case SDV_ACTIVATION_SILU: y = x / (1.0f + exp16(-x)); break;
    case SDV_ACTIVATION_SIGMOID: y = 1.0f / (1.0f + exp16(-x)); break;
    case SDV_ACTIVATION_TANH: y = tanh16(x); break;
    case SDV_ACTIVATION_EXP: y = exp16(x); break;
    case SDV_ACTIVATION_GELU: {
        // 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(|x| / sqrt 2) below zero, 0.5 x (2 - erfc) above.
        v16f complement = erfc_of_magnitude(x * 0.70710678118654752f);
        y = 0.5f * x * select16(x > 0.0f, 2.0f - complement, complement);
        break;
    }
    case SDV_ACTIVATION_GELU_TANH: {
        v16f u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
        y = x / (1.0f + exp16(-2.0f * u));
        break;
    }
    default: y = x / (1.0f + exp16(-1.702f * x)); break;  // SDV_ACTIVATION_QUICK_GELU
    }
    // NaN in, NaN out (exp16's clamps are not NaN-aware).
    return select16(x != x, x, y);
}

SDV_TARGET void SDV_EXPORT(sdv_activation_)(int32_t activation, const float *input, float *output, ptrdiff_t count) {
    ptrdiff_t index = 0;
    for (; index + 16 <= count; index += 16) store16(output + index, activation16(activation, load16(input + index)));
    if (index < count) {
        float block[16] = {0};
        memcpy(block, input + index, sizeof(float) * (count - index));
        store16(block, activation16(activation, load16(block)));
        memcpy(output + index, block, sizeof(float) * (count - index));
    }
}
