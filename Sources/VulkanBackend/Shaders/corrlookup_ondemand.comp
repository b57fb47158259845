#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// The lookup computing each needed correlation as a dot product of the (scaled) query [pixels,
// channels] with the level's pooled keys [levelHeight levelWidth, channels].
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Queries { ACT queries[]; };
layout(binding = 1) readonly buffer Keys { ACT keys[]; };
layout(binding = 2) readonly buffer Coordinates { ACT coordinates[]; };
layout(binding = 3) writeonly buffer Output { ACT result[]; };

float correlationAt(uint pixel, int x, int y);
void prepareLevel(uint pixel, int firstX, int firstY);
#include "correlation.glsl"

float dotAt(uint pixel, int x, int y) {
    if (x < 0 || x >= int(p.levelWidth) || y < 0 || y >= int(p.levelHeight)) return 0.0;
    uint queryBase = pixel * p.channels, keyBase = (uint(y) * p.levelWidth + uint(x)) * p.channels;
    float sum = 0.0;
    for (uint c = 0u; c < p.channels; c++) sum += float(queries[queryBase + c]) * float(keys[keyBase + c]);
    return sum;
}

// The window's bilinear samples touch a (2r + 2)² block of grid points: each dot product is computed
// once into the block (radius <= 4); a point outside it (only if rounding moved a floor) directly.
float block[100];
int blockX, blockY, blockSpan;

void prepareLevel(uint pixel, int firstX, int firstY) {
    blockX = firstX;
    blockY = firstY;
    blockSpan = 2 * int(p.radius) + 2;
    if (blockSpan > 10) {
        blockSpan = 0;
        return;
    }
    for (int by = 0; by < blockSpan; by++)
        for (int bx = 0; bx < blockSpan; bx++) block[by * blockSpan + bx] = dotAt(pixel, firstX + bx, firstY + by);
}

float correlationAt(uint pixel, int x, int y) {
    int bx = x - blockX, by = y - blockY;
    if (bx >= 0 && bx < blockSpan && by >= 0 && by < blockSpan) return block[by * blockSpan + bx];
    return dotAt(pixel, x, y);
}

void main() {
    uint pixel = flatIndex();
    if (pixel < p.height * p.width) lookupLevel(pixel);
}
