// The tiled matrix product shared by gemm.comp and conv2d.comp: a 16x16 workgroup computes a 64x64
// tile of C, each invocation 4x4 outputs (rows ty + 16 i, columns tx + 16 j, so shared-memory reads
// are conflict-free), stepping through K in slices of 16 staged in shared memory. The including
// shader defines loadA(batch, row, k), loadB(batch, k, column) (zero outside the matrix) and
// storeC(batch, row, column, sum); accumulation is float32 whatever the storage types.
layout(local_size_x = 16, local_size_y = 16) in;

const uint TILE = 64u, SLICE = 16u;
shared float tileA[SLICE][TILE + 1u];
shared float tileB[SLICE][TILE + 1u];

void multiplyTile(uint m, uint n, uint k) {
    uint batch = gl_WorkGroupID.z;
    uint rowBase = gl_WorkGroupID.y * TILE, columnBase = gl_WorkGroupID.x * TILE;
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y, thread = ty * 16u + tx;
    float sums[4][4];
    for (uint i = 0u; i < 4u; i++) for (uint j = 0u; j < 4u; j++) sums[i][j] = 0.0;
    for (uint sliceStart = 0u; sliceStart < k; sliceStart += SLICE) {
        for (uint l = 0u; l < 4u; l++) {
            uint e = thread + l * 256u;
            uint aRow = e / SLICE, aK = e % SLICE;
            uint row = rowBase + aRow, kk = sliceStart + aK;
            tileA[aK][aRow] = (row < m && kk < k) ? loadA(batch, row, kk) : 0.0;
            uint bK = e / TILE, bColumn = e % TILE;
            uint column = columnBase + bColumn, kb = sliceStart + bK;
            tileB[bK][bColumn] = (column < n && kb < k) ? loadB(batch, kb, column) : 0.0;
        }
        barrier();
        for (uint kk = 0u; kk < SLICE; kk++) {
            float a[4], b[4];
            for (uint i = 0u; i < 4u; i++) a[i] = tileA[kk][ty + 16u * i];
            for (uint j = 0u; j < 4u; j++) b[j] = tileB[kk][tx + 16u * j];
            for (uint i = 0u; i < 4u; i++) for (uint j = 0u; j < 4u; j++) sums[i][j] += a[i] * b[j];
        }
        barrier();
    }
    for (uint i = 0u; i < 4u; i++) {
        uint row = rowBase + ty + 16u * i;
        if (row >= m) continue;
        for (uint j = 0u; j < 4u; j++) {
            uint column = columnBase + tx + 16u * j;
            if (column < n) storeC(batch, row, column, sums[i][j]);
        }
    }
}
