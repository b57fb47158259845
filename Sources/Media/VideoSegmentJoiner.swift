import Foundation

/// The source video's other streams that go into the output: audio, subtitles (and, for Matroska, their
/// font attachments), chapters and container metadata, cut to the part of the source that was upscaled.
public struct SourceStreams: Sendable {
    public let path: String
    public let info: VideoInfo
    public var keepAudio: Bool
    public var keepSubtitles: Bool
    /// The upscaled frames' span of the source in seconds (start, duration); nil when it is all of it.
    /// With a window the audio is re-encoded (AAC) so that it is cut exactly.
    public var window: (start: Double, duration: Double)?

    public init(path: String, info: VideoInfo, keepAudio: Bool = true, keepSubtitles: Bool = true,
                window: (start: Double, duration: Double)? = nil) {
        self.path = path
        self.info = info
        self.keepAudio = keepAudio
        self.keepSubtitles = keepSubtitles
        self.window = window
    }
}

/// Joins separately encoded video segments into one file without re-encoding them (ffmpeg's concat
/// demuxer, stream copy) and muxes in the source's other streams, writing the destination under a
/// temporary name first.
public enum VideoSegmentJoiner {
    public struct Segment: Sendable, Equatable {
        /// A file name inside the segment folder.
        public let name: String
        public let frames: Int

        public init(name: String, frames: Int) {
            self.name = name
            self.frames = frames
        }
    }

    /// Audio codecs an MP4/MOV file can carry as they are; anything else is re-encoded to AAC.
    static let mp4AudioCodecs: Set<String> = ["aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"]
    /// Text subtitle codecs ffmpeg can convert to MP4's timed text (mov_text).
    static let textSubtitleCodecs: Set<String> = [
        "subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text", "microdvd", "subviewer", "subviewer1",
        "jacosub", "sami", "realtext", "mpl2", "pjs", "vplayer", "stl",
    ]

    /// One line per source stream that the destination's container cannot hold (left out of the join).
    public static func warnings(for source: SourceStreams, destination: String) -> [String] {
        streamArguments(source, container: URL(fileURLWithPath: destination).pathExtension.lowercased()).warnings
    }

    /// Writes the concat script into `folder` (where the segments are) and the joined file to `destination`.
    public static func join(segments: [Segment], in folder: String, frameRate: FrameRate, source: SourceStreams?,
                            destination: String, tools: FFmpegTools) throws {
        let list = (folder as NSString).appendingPathComponent("segments.txt")
        try AtomicFileWriter.write(Array(concatList(segments, frameRate: frameRate).utf8), to: list)
        let container = URL(fileURLWithPath: destination).pathExtension.lowercased()
        let temporary = AtomicFileWriter.temporaryPath(for: destination)
        var arguments = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "concat", "-i", list]
        if let source {
            if let window = source.window {
                arguments += ["-ss", String(format: "%.6f", window.start), "-t", String(format: "%.6f", window.duration)]
            }
            arguments += tools.sourceInputOptions + ["-i", source.path, "-map", "0:v:0"]
            arguments += streamArguments(source, container: container).arguments + ["-map_metadata", "1", "-map_chapters", "1"]
            // A subtitle that began before the window starts before zero; by default the muxer would then
            // delay every stream to make room for it, and the audio would drift from the video.
            if source.window != nil { arguments += ["-avoid_negative_ts", "disabled"] }
        } else {
            arguments += ["-map", "0:v:0"]
        }
        arguments += ["-c:v", "copy", temporary]
        let output = try ProcessRunner.run(tools.ffmpeg, arguments)
        guard output.status == 0 else {
            unlink(temporary)
            throw MediaError.ffmpegFailed(path: destination, reason: output.firstErrorLine)
        }
        try AtomicFileWriter.commit(temporary: temporary, to: destination)
    }

    /// The concat demuxer's script. Each segment's duration is given in whole microseconds such that the
    /// running sum is the exact start of the next segment rounded once, so frame timestamps never drift
    /// however many segments there are (the containers' own durations are rounded, e.g. to milliseconds).
    static func concatList(_ segments: [Segment], frameRate: FrameRate) -> String {
        var text = "ffconcat version 1.0\n"
        var framesBefore = 0
        for segment in segments {
            let start = microseconds(frames: framesBefore, rate: frameRate)
            framesBefore += segment.frames
            text += "file '\(segment.name)'\nduration \(microseconds(frames: framesBefore, rate: frameRate) - start)us\n"
        }
        return text
    }

    /// frames / rate in microseconds, rounded to nearest.
    static func microseconds(frames: Int, rate: FrameRate) -> Int {
        let (scaled, overflow) = frames.multipliedReportingOverflow(by: rate.denominator * 1_000_000)
        guard !overflow else { return Int((Double(frames) / rate.framesPerSecond * 1e6).rounded()) }
        return (scaled + rate.numerator / 2) / rate.numerator
    }

    static func streamArguments(_ source: SourceStreams, container: String) -> (arguments: [String], warnings: [String]) {
        let isMatroska = container == "mkv"
        var arguments: [String] = []
        var warnings: [String] = []
        if source.keepAudio, let codec = source.info.audioCodec {
            // A copied stream can only be cut at its packets (and ffmpeg does not trim copied audio in
            // Matroska at all), so a window re-encodes it: decoded audio is cut to the sample.
            let copyable = source.window == nil && (isMatroska || mp4AudioCodecs.contains(codec))
            arguments += ["-map", "1:a?", "-c:a", copyable ? "copy" : "aac"]
        }
        guard source.keepSubtitles else { return (arguments, warnings) }
        var kept = 0
        for (index, codec) in source.info.subtitleCodecs.enumerated() {
            let target: String
            if isMatroska {
                // Matroska has no timed-text (mov_text) track type; SubRip carries the same text.
                target = codec == "mov_text" ? "srt" : "copy"
            } else if codec == "mov_text" {
                target = "copy"
            } else if textSubtitleCodecs.contains(codec) {
                target = "mov_text"
            } else {
                warnings.append("\(source.path): subtitle stream \(index) (\(codec)) is a picture format that .\(container) cannot hold; it is left out (write .mkv to keep it)")
                continue
            }
            arguments += ["-map", "1:s:\(index)", "-c:s:\(kept)", target]
            kept += 1
        }
        if isMatroska && kept > 0 { arguments += ["-map", "1:t?"] }
        return (arguments, warnings)
    }
}
