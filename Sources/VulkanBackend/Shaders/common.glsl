// Shared by every kernel. ACT is the activation storage type (float, or float16_t with
// -DACT_F16: 16-bit storage, float arithmetic); WGT the weight type of GEMM and convolution.
// Every value is widened to float as it is loaded and rounded once as it is stored.
#extension GL_EXT_shader_16bit_storage : enable

#ifdef ACT_F16
#define ACT float16_t
#else
#define ACT float
#endif

#ifdef WEIGHT_F16
#define WGT float16_t
#elif defined(WEIGHT_F32)
#define WGT float
#else
#define WGT ACT
#endif

// Elementwise kernels run 256 invocations per workgroup over a 2-D grid of workgroups (one axis
// alone is limited to 65535 workgroups); this is the flat element index.
uint flatIndex() {
    return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
}
