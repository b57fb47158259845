import Foundation
import Media

/// Upscales one chunk of a video for a distributed job: decodes from `warmupFrom`, runs the warm-up
/// frames through the upscaler to rebuild its temporal state (their outputs are dropped), then encodes
/// the chunk's own frames into a video-only file that `VideoSegmentJoiner` joins with the others
/// without re-encoding. The file appears under its name only when complete.
public struct ChunkRunner {
    public struct Progress: Sendable {
        /// The chunk's own frames written so far (warm-up frames not counted).
        public let framesDone: Int
        public let warmup: Bool
        public let secondsPerFrame: Double
    }

    public let input: String
    public let warmupFrom: Int
    public let firstFrame: Int
    /// nil: to the end of the stream.
    public let endFrame: Int?
    public let encoder: VideoEncoderSettings

    public init(input: String, warmupFrom: Int, firstFrame: Int, endFrame: Int?, encoder: VideoEncoderSettings) {
        precondition(warmupFrom >= 0 && warmupFrom <= firstFrame && (endFrame ?? Int.max) > firstFrame, "invalid chunk bounds")
        self.input = input
        self.warmupFrom = warmupFrom
        self.firstFrame = firstFrame
        self.endFrame = endFrame
        self.encoder = encoder
    }

    /// Returns the number of frames written. `onFrame` runs after every frame and may throw to stop
    /// (cancelled, draining); the partial file is then removed.
    @discardableResult
    public func run(upscaler: FrameUpscaling, destination: String, tools: FFmpegTools,
                    onFrame: (Progress) throws -> Void = { _ in }) throws -> Int {
        let reader = try VideoFrameReader(path: input, frames: warmupFrom..<(endFrame ?? Int.max), tools: tools)
        defer { reader.close() }
        var writer: VideoFrameWriter?
        defer { writer?.cancel() }
        var index = warmupFrom
        var written = 0
        while let frame = try reader.nextFrame() {
            let start = ProcessInfo.processInfo.systemUptime
            let output = try upscaler.upscale(frame)
            if index >= firstFrame {
                if writer == nil {
                    writer = try VideoFrameWriter(destination: destination, width: output.width, height: output.height,
                                                  frameRate: reader.info.frameRate, encoder: encoder, tools: tools)
                }
                try writer!.write(output)
                written += 1
            }
            index += 1
            try onFrame(Progress(framesDone: written, warmup: index <= firstFrame,
                                 secondsPerFrame: ProcessInfo.processInfo.systemUptime - start))
        }
        guard let writer, written > 0 else {
            throw MediaError.ffmpegFailed(path: input, reason: "the video ended before frame \(firstFrame) (chunk start)")
        }
        try writer.finish()
        return written
    }
}
