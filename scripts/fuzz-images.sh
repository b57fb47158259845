#!/usr/bin/env bash
# Coverage-guided fuzzing of the PNG/JPEG decoders with libFuzzer and AddressSanitizer.
#
#   scripts/fuzz-images.sh [seconds]        (default 60)
#
# Builds .build-fuzz/image-decoders from the Media sources and scripts/fuzz/ImageDecoderFuzzer.swift,
# seeds a corpus from Tests/MediaTests/Fixtures and runs for the given time. Findings are written to
# .build-fuzz/ as crash-* files; rerun one with `.build-fuzz/image-decoders <file>`.
# The normal test suite fuzzes the same decoders (and the other parsers) in process, seeded and bounded:
# MediaTests, CheckpointsTests and WebAppTests.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
out=.build-fuzz
mkdir -p "$out/corpus"
cp Tests/MediaTests/Fixtures/*.png Tests/MediaTests/Fixtures/*.jpg "$out/corpus/"
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name FuzzImages \
    -I Sources/CLibPNG -I Sources/CLibJPEG $(pkg-config --cflags-only-I libpng | sed 's/-I/-Xcc -I/g') \
    Sources/Media/PNGCodec.swift Sources/Media/JPEGCodec.swift Sources/Media/MediaError.swift Sources/Media/RGBImage.swift \
    Sources/Media/ImageFile.swift Sources/Media/AtomicFileWriter.swift \
    scripts/fuzz/ImageDecoderFuzzer.swift \
    $(pkg-config --libs libpng) -ljpeg -o "$out/image-decoders"
"$out/image-decoders" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$out/" "$out/corpus"
