#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// The lookup from a stored correlation level [pixels, levelHeight, levelWidth].
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Volume { ACT volume[]; };
layout(binding = 1) readonly buffer Coordinates { ACT coordinates[]; };
layout(binding = 2) writeonly buffer Output { ACT result[]; };

float correlationAt(uint pixel, int x, int y);
void prepareLevel(uint pixel, int firstX, int firstY) {}
#include "correlation.glsl"

float correlationAt(uint pixel, int x, int y) {
    if (x < 0 || x >= int(p.levelWidth) || y < 0 || y >= int(p.levelHeight)) return 0.0;
    return float(volume[(pixel * p.levelHeight + uint(y)) * p.levelWidth + uint(x)]);
}

void main() {
    uint pixel = flatIndex();
    if (pixel < p.height * p.width) lookupLevel(pixel);
}
