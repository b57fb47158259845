import Foundation
import Media

/// Encodes a video output as a series of segments of `segmentFrames` frames in the work folder, each
/// started fresh (a keyframe first) so they can be joined without re-encoding. When the job is
/// resumable, the frames of the segment still open are also kept as lossless PNG: a resumed run feeds
/// them to a new encoder and so rebuilds the segment an uninterrupted run would have written.
final class SegmentedVideoWriter {
    let folder: WorkFolder
    let frameRate: FrameRate
    let encoder: VideoEncoderSettings
    let segmentFrames: Int
    let keepsPendingFrames: Bool
    private let tools: FFmpegTools
    private(set) var framesWritten: Int
    private var open: VideoFrameWriter?

    init(folder: WorkFolder, frameRate: FrameRate, encoder: VideoEncoderSettings, segmentFrames: Int,
         keepsPendingFrames: Bool, framesWritten: Int = 0, tools: FFmpegTools) {
        self.folder = folder
        self.frameRate = frameRate
        self.encoder = encoder
        self.segmentFrames = segmentFrames
        self.keepsPendingFrames = keepsPendingFrames
        self.framesWritten = framesWritten
        self.tools = tools
    }

    deinit { cancel() }

    var completeSegments: Int { framesWritten / segmentFrames }

    /// The pending frames a checkpoint after `framesWritten` frames relies on.
    static func pendingFrames(framesWritten: Int, segmentFrames: Int) -> Range<Int> {
        (framesWritten / segmentFrames * segmentFrames)..<framesWritten
    }

    /// After a resume: re-encodes the open segment's frames saved by the interrupted run.
    func reopen() throws {
        for index in Self.pendingFrames(framesWritten: framesWritten, segmentFrames: segmentFrames) {
            try encode(try ImageFile.read(folder.pendingFramePath(index)))
        }
    }

    func append(_ frame: RGBImage) throws {
        if keepsPendingFrames { try ImageFile.writePNG(frame, to: folder.pendingFramePath(framesWritten)) }
        try encode(frame)
        framesWritten += 1
        if framesWritten % segmentFrames == 0 { try closeSegment() }
    }

    /// Once a checkpoint covers the closed segments, their frames are no longer needed.
    func discardPendingFrames() {
        let kept = Self.pendingFrames(framesWritten: framesWritten, segmentFrames: segmentFrames)
        var index = kept.lowerBound - 1
        while index >= 0, FileManager.default.fileExists(atPath: folder.pendingFramePath(index)) {
            unlink(folder.pendingFramePath(index))
            index -= 1
        }
    }

    /// Closes the last, possibly short, segment and lists them all.
    func finish() throws -> [VideoSegmentJoiner.Segment] {
        try closeSegment()
        return Self.segments(framesWritten: framesWritten, segmentFrames: segmentFrames)
    }

    static func segments(framesWritten: Int, segmentFrames: Int) -> [VideoSegmentJoiner.Segment] {
        stride(from: 0, to: framesWritten, by: segmentFrames).enumerated().map { index, first in
            VideoSegmentJoiner.Segment(name: WorkFolder.segmentName(index), frames: min(segmentFrames, framesWritten - first))
        }
    }

    func cancel() {
        open?.cancel()
        open = nil
    }

    private func encode(_ frame: RGBImage) throws {
        if open == nil {
            open = try VideoFrameWriter(destination: folder.file(WorkFolder.segmentName(completeSegments)), width: frame.width,
                                        height: frame.height, frameRate: frameRate, encoder: encoder, tools: tools)
        }
        try open!.write(frame)
    }

    private func closeSegment() throws {
        guard let segment = open else { return }
        open = nil
        try segment.finish()
    }
}
