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
#include "correlation.glsl"

float correlationAt(uint pixel, int x, int y) {
    if (x < 0 || x >= int(p.levelWidth) || y < 0 || y >= int(p.levelHeight)) return 0.0;
    uint queryBase = pixel * p.channels, keyBase = (uint(y) * p.levelWidth + uint(x)) * p.channels;
    float sum = 0.0;
    for (uint c = 0u; c < p.channels; c++) sum += float(queries[queryBase + c]) * float(keys[keyBase + c]);
    return sum;
}

void main() {
    uint pixel = flatIndex();
    if (pixel < p.height * p.width) lookupLevel(pixel);
}
