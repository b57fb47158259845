// CKernels: the GEMM, convolution, Winograd and softmax micro-kernels, written once in C
// (KernelBody.h) and compiled three times in one ordinary target: each copy's functions carry a
// `target` attribute (AVX-512, AVX2+FMA, or none), so no compiler flag is needed and the package
// stays usable as a versioned dependency. CPUBackend's KernelTable picks one copy at run time.
//
// Every function is single-threaded and allocation-free; callers split work between threads and
// hand each thread its own workspace.
#ifndef STREAM_DIFFVSR_CKERNELS_H
#define STREAM_DIFFVSR_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Elementwise activations of `sdv_activation_*`, as PyTorch defines them (NaN stays NaN).
enum {
    SDV_ACTIVATION_RELU = 0,
    SDV_ACTIVATION_SILU = 1,
    SDV_ACTIVATION_SIGMOID = 2,
    SDV_ACTIVATION_TANH = 3,
    SDV_ACTIVATION_EXP = 4,
    SDV_ACTIVATION_GELU = 5,       /* the exact erf form */
    SDV_ACTIVATION_GELU_TANH = 6,  /* the tanh approximation */
    SDV_ACTIVATION_QUICK_GELU = 7  /* x sigmoid(1.702 x) */
};

/// Floats of scratch the Winograd input transform needs for rows of `tilesX` tiles (every copy).
static inline ptrdiff_t sdv_winograd_input_scratch_count(ptrdiff_t tilesX) { return 8 * (tilesX + 32); }

#define SDV_DECLARE_KERNELS(suffix)                                                                          \
    /* Floats of workspace one gemm / convolution_gemm call needs. */                                       \
    ptrdiff_t sdv_workspace_count_##suffix(void);                                                           \
    /* SIMD width (floats) of the copy's GEMM micro-kernel. */                                              \
    ptrdiff_t sdv_vector_width_##suffix(void);                                                              \
    /* C = alpha * A.B + beta * C (+ rowBias[i]); A(i, p) = a[i*aRowStride + p*aColumnStride],              \
       B(p, j) = b[p*bRowStride + j*bColumnStride]. k > 0; beta == 0 never reads C. */                      \
    void sdv_gemm_##suffix(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha, const float *a,              \
                           ptrdiff_t aRowStride, ptrdiff_t aColumnStride, const float *b,                   \
                           ptrdiff_t bRowStride, ptrdiff_t bColumnStride, float beta, const float *rowBias, \
                           float *c, ptrdiff_t ldc, float *workspace);                                      \
    /* Implicit-GEMM convolution of one image: output pixels firstPixel..<firstPixel+n of m output          \
       channels; weights [m, k] row-major, k = channels * kernelHeight * kernelWidth; c points at the      \
       output of pixel firstPixel of channel 0, rows ldc apart. */                                          \
    void sdv_convolution_gemm_##suffix(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *weights,         \
                                       const float *input, ptrdiff_t height, ptrdiff_t width,               \
                                       ptrdiff_t kernelHeight, ptrdiff_t kernelWidth, ptrdiff_t strideY,    \
                                       ptrdiff_t strideX, ptrdiff_t padY, ptrdiff_t padX, ptrdiff_t outWidth, \
                                       ptrdiff_t firstPixel, const float *rowBias, float *c, ptrdiff_t ldc, \
                                       float *workspace);                                                   \
    /* Winograd F(2x2, 3x3): U = G g G^T for output channels firstOut..<endOut, U [16][out][in]. */          \
    void sdv_winograd_weight_transform_##suffix(const float *weights, ptrdiff_t firstOut, ptrdiff_t endOut,  \
                                                ptrdiff_t outChannelCount, ptrdiff_t inChannels,            \
                                                float *transformed);                                        \
    /* V = B^T d B for tile rows firstTileRow..<firstTileRow+tileRows of channels firstChannel..<endChannel \
       of one image [inChannels][height][width] (zero padding 1); V [16][inChannels][tileRows*tilesX]. */   \
    void sdv_winograd_input_transform_##suffix(const float *input, ptrdiff_t height, ptrdiff_t width,       \
                                               ptrdiff_t firstChannel, ptrdiff_t endChannel,                \
                                               ptrdiff_t inChannels, ptrdiff_t firstTileRow,                \
                                               ptrdiff_t tileRows, ptrdiff_t tilesX, float *transformed,    \
                                               float *scratch);                                             \
    /* Y = A^T M A + bias for output channels firstChannel..<endChannel of a band; `products` must stay    \
       readable 16 floats past its end. */                                                                  \
    void sdv_winograd_output_transform_##suffix(const float *products, ptrdiff_t firstChannel,              \
                                                ptrdiff_t endChannel, ptrdiff_t outChannels,                \
                                                ptrdiff_t firstTileRow, ptrdiff_t tileRows, ptrdiff_t tilesX, \
                                                const float *bias, float *output, ptrdiff_t height,         \
                                                ptrdiff_t width);                                           \
    /* In-place softmax of one row, max-subtracted like PyTorch (a row of -inf becomes NaN). */             \
    void sdv_softmax_row_##suffix(float *row, ptrdiff_t count);                                             \
    /* e^x in place (~1 ulp; underflows to 0 through the subnormals, overflows to +inf). */                 \
    void sdv_exp_##suffix(float *values, ptrdiff_t count);                                                  \
    /* Exact widening of `count` IEEE half / bfloat16 values (bit patterns, host order) to float. */      \
    void sdv_half_to_float_##suffix(const uint16_t *source, float *target, ptrdiff_t count);               \
    void sdv_bfloat16_to_float_##suffix(const uint16_t *source, float *target, ptrdiff_t count);            \
    /* One of the SDV_ACTIVATION_* functions of `count` floats (output may be input). */                  \
    void sdv_activation_##suffix(int32_t activation, const float *input, float *output, ptrdiff_t count);

#if defined(__x86_64__)
SDV_DECLARE_KERNELS(avx512)
SDV_DECLARE_KERNELS(avx2)
#endif
SDV_DECLARE_KERNELS(portable)

#endif
