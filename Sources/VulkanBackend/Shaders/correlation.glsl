// RAFT's pyramid lookup at one level, shared by the stored-volume and the on-demand kernels: one
// invocation per level-0 pixel samples the (2r+1)² window bilinearly (zero padding) around
// coordinates / 2^level, keeping torchvision's normalise-then-unnormalise roundings. The including
// shader defines correlationAt(pixel, x, y) (zero outside the level's grid) and prepareLevel(pixel,
// firstX, firstY), called once per level with the window's first grid point.
layout(push_constant) uniform Parameters {
    uint height; uint width; uint levelHeight; uint levelWidth; uint radius; uint level; uint levels; uint channels;
} p;

void lookupLevel(uint pixel) {
    uint pixels = p.height * p.width;
    float centreX = float(coordinates[pixel]), centreY = float(coordinates[pixels + pixel]);
    for (uint l = 0u; l < p.level; l++) {
        centreX /= 2.0;
        centreY /= 2.0;
    }
    float spanX = float(p.levelWidth - 1u), spanY = float(p.levelHeight - 1u);
    uint side = 2u * p.radius + 1u, window = side * side;
    uint outputBase = p.level * window * pixels + pixel;
    precise float firstX = (2.0 * (centreX - float(p.radius)) / spanX - 1.0 + 1.0) * (spanX / 2.0);
    precise float firstY = (2.0 * (centreY - float(p.radius)) / spanY - 1.0 + 1.0) * (spanY / 2.0);
    prepareLevel(pixel, int(floor(firstX)), int(floor(firstY)));
    for (uint ix = 0u; ix < side; ix++) {
        precise float sx = (2.0 * (centreX + float(int(ix) - int(p.radius))) / spanX - 1.0 + 1.0) * (spanX / 2.0);
        int x0 = int(floor(sx));
        precise float tx = sx - float(x0);
        for (uint iy = 0u; iy < side; iy++) {
            precise float sy = (2.0 * (centreY + float(int(iy) - int(p.radius))) / spanY - 1.0 + 1.0) * (spanY / 2.0);
            int y0 = int(floor(sy));
            precise float ty = sy - float(y0);
            precise float v = correlationAt(pixel, x0, y0) * ((1.0 - tx) * (1.0 - ty))
                + correlationAt(pixel, x0 + 1, y0) * (tx * (1.0 - ty))
                + correlationAt(pixel, x0, y0 + 1) * ((1.0 - tx) * ty)
                + correlationAt(pixel, x0 + 1, y0 + 1) * (tx * ty);
            result[outputBase + (ix * side + iy) * pixels] = ACT(v);
        }
    }
}
