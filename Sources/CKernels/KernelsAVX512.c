// The AVX-512 copy of KernelBody.h: 8x32 micro-kernel in 16 zmm accumulators.
#if defined(__x86_64__)
#define SDV_SUFFIX avx512
#define SDV_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define SDV_WIDE_TILE 1
#include "KernelBody.h"
#endif
