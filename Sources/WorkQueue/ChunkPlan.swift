/// One chunk of a job: the frames `firstFrame..<endFrame` are its output; the frames from `warmupFrom`
/// up to `firstFrame` run first to rebuild the temporal state, and their outputs are discarded.
public struct ChunkRange: Sendable, Equatable, Codable {
    public let index: Int
    public let warmupFrom: Int
    public let firstFrame: Int
    public let endFrame: Int
    /// The last chunk reads to the end of the stream, whatever the frame count said.
    public let isLast: Bool

    public init(index: Int, warmupFrom: Int, firstFrame: Int, endFrame: Int, isLast: Bool) {
        self.index = index
        self.warmupFrom = warmupFrom
        self.firstFrame = firstFrame
        self.endFrame = endFrame
        self.isLast = isLast
    }

    public var frameCount: Int { endFrame - firstFrame }
    public var warmupCount: Int { firstFrame - warmupFrom }
}

public enum ChunkPlan {
    /// Splits `frameCount` frames into chunks of `chunkFrames` (0: one chunk), each preceded by up to
    /// `warmupFrames` warm-up frames (the first chunk has none: the stream starts there anyway).
    public static func split(frameCount: Int, chunkFrames: Int, warmupFrames: Int) throws -> [ChunkRange] {
        guard frameCount >= 1 else { throw JobQueueError.invalidJob("the video has no frames") }
        guard chunkFrames >= 0 else { throw JobQueueError.invalidJob("--chunk-frames must be 0 or more, got \(chunkFrames)") }
        guard warmupFrames >= 0 else { throw JobQueueError.invalidJob("--warmup-frames must be 0 or more, got \(warmupFrames)") }
        let size = chunkFrames == 0 ? frameCount : chunkFrames
        var chunks: [ChunkRange] = []
        var first = 0
        while first < frameCount {
            let end = first + min(size, frameCount - first)
            chunks.append(ChunkRange(index: chunks.count, warmupFrom: max(0, first - warmupFrames), firstFrame: first,
                                     endFrame: end, isLast: end == frameCount))
            first = end
        }
        return chunks
    }
}
