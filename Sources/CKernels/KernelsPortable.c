// The portable copy of KernelBody.h: the compiler's baseline for the platform (SSE2 on x86-64, NEON
// on arm64), 6x16 micro-kernel.
#define SDV_SUFFIX portable
#define SDV_TARGET
#define SDV_WIDE_TILE 0
#include "KernelBody.h"
