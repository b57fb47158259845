// Workgroup-wide sum and maximum over 256 invocations through shared memory (portable: no subgroup
// operations needed). Every invocation of the workgroup must call them.
shared float reductionScratch[256];

float workgroupSum(float value) {
    uint t = gl_LocalInvocationID.x;
    barrier();
    reductionScratch[t] = value;
    barrier();
    for (uint stride = 128u; stride > 0u; stride >>= 1) {
        if (t < stride) reductionScratch[t] += reductionScratch[t + stride];
        barrier();
    }
    return reductionScratch[0];
}

float workgroupMax(float value) {
    uint t = gl_LocalInvocationID.x;
    barrier();
    reductionScratch[t] = value;
    barrier();
    for (uint stride = 128u; stride > 0u; stride >>= 1) {
        if (t < stride) reductionScratch[t] = max(reductionScratch[t], reductionScratch[t + stride]);
        barrier();
    }
    return reductionScratch[0];
}
