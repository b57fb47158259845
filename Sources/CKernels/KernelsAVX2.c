// The AVX2 + FMA copy of KernelBody.h: 6x16 micro-kernel in 12 ymm accumulators.
#if defined(__x86_64__)
#define SDV_SUFFIX avx2
#define SDV_TARGET __attribute__((target("avx2,fma,f16c")))
#define SDV_WIDE_TILE 0
#include "KernelBody.h"
#endif
