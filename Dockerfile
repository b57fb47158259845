# Stream-DiffVSR: one image for the web front (`serve`, `serve --queue …`) and the queue workers
# (`worker --queue …`). Stage 1 builds the release binary with the Swift toolchain; stage 2 is a slim
# Debian with the run-time pieces only: ffmpeg/ffprobe (decode, encode, join), the Vulkan loader and
# Mesa's drivers (GPU devices), libpng/libjpeg, libcurl (model downloads). See docs/scale-out.md.
#
#   docker build -t stream-diffvsr .
#   docker compose up --scale worker=4

# Swift 6.2 or newer: swift-prometheus declares swift-tools-version 6.2.
FROM swift:6.2-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpng-dev libjpeg-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN swift build -c release --product stream-diffvsr --static-swift-stdlib \
 && install -D "$(swift build -c release --show-bin-path)/stream-diffvsr" /out/stream-diffvsr

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libpng16-16 libjpeg62-turbo libvulkan1 mesa-vulkan-drivers \
        libcurl4 libxml2 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 1000 --user-group --home-dir /data --create-home vsr \
 && mkdir -p /storage && chown vsr:vsr /storage
COPY --from=build /out/stream-diffvsr /usr/local/bin/stream-diffvsr
USER vsr
# Model weights are cached under /data (a volume), shared storage is mounted at /storage.
ENV HF_HOME=/data/huggingface TORCH_HOME=/data/torch PORT=8000
VOLUME ["/data", "/storage"]
EXPOSE 8000 9100
ENTRYPOINT ["stream-diffvsr"]
CMD ["serve", "--host", "0.0.0.0"]
