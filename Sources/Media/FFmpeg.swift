import Foundation

/// Locations of the `ffmpeg` and `ffprobe` executables (FFMPEG_PATH / FFPROBE_PATH, else PATH).
public struct FFmpegTools: Sendable {
    public let ffmpeg: String
    public let ffprobe: String
    /// Put before every source video's path (probe, decode, and the audio/subtitle copy when joining);
    /// empty for the CLI, `untrustedInputOptions` for files uploaded to the server.
    public var sourceInputOptions: [String] = []

    public init(ffmpeg: String, ffprobe: String, sourceInputOptions: [String] = []) {
        self.ffmpeg = ffmpeg
        self.ffprobe = ffprobe
        self.sourceInputOptions = sourceInputOptions
    }

    /// The demuxers a video upload may use. Format detection by content would otherwise open playlists
    /// (HLS, concat, ffconcat) and image-sequence patterns whose entries name other local files.
    public static let uploadFormats = ["mov", "mp4", "matroska", "webm", "avi", "mpegts", "flv", "ogg", "mpeg", "asf", "ivf", "m4v", "h264", "hevc", "gif"]

    /// Only the file itself (the `file` protocol; no http, no data, no pipe to other programs) and only
    /// an allow-listed container: a hostile upload cannot make ffmpeg read anything but its own bytes.
    public var forUntrustedInput: FFmpegTools {
        FFmpegTools(ffmpeg: ffmpeg, ffprobe: ffprobe,
                    sourceInputOptions: ["-protocol_whitelist", "file", "-format_whitelist", FFmpegTools.uploadFormats.joined(separator: ",")])
    }

    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> FFmpegTools {
        guard let ffmpeg = environment["FFMPEG_PATH"] ?? findExecutable("ffmpeg", environment: environment) else {
            throw MediaError.ffmpegMissing(tool: "ffmpeg")
        }
        guard let ffprobe = environment["FFPROBE_PATH"] ?? findExecutable("ffprobe", environment: environment) else {
            throw MediaError.ffmpegMissing(tool: "ffprobe")
        }
        return FFmpegTools(ffmpeg: ffmpeg, ffprobe: ffprobe)
    }

    public static func findExecutable(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let folders = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        for folder in folders {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The first line of `ffmpeg -version`, for bug reports.
    public func version() -> String? {
        guard let output = try? ProcessRunner.run(ffmpeg, ["-hide_banner", "-version"]), output.status == 0 else { return nil }
        return String(decoding: output.stdout, as: UTF8.self).split(separator: "\n").first.map(String.init)
    }
}

/// A frame rate kept as the exact fraction ffprobe reports (e.g. 30000/1001).
public struct FrameRate: Sendable, Equatable, CustomStringConvertible {
    public let numerator: Int
    public let denominator: Int

    public init(numerator: Int, denominator: Int) {
        self.numerator = numerator
        self.denominator = denominator
    }

    /// Parses "30000/1001" or "25".
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard let numerator = parts.first.flatMap({ Int($0) }) else { return nil }
        let denominator = parts.count > 1 ? Int(parts[1]) ?? 0 : 1
        guard numerator > 0, denominator > 0 else { return nil }
        self.init(numerator: numerator, denominator: denominator)
    }

    public var framesPerSecond: Double { Double(numerator) / Double(denominator) }
    public var description: String { "\(numerator)/\(denominator)" }
}

/// What the job runner needs to know about a video file before decoding it.
public struct VideoInfo: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let frameRate: FrameRate
    /// From the container when it says, else estimated from the duration; nil when unknown.
    public let frameCount: Int?
    public let audioCodec: String?
    /// Codec names of the subtitle streams, in stream order (subrip, ass, mov_text, hdmv_pgs_subtitle, ...).
    public var subtitleCodecs: [String] = []
    /// Seconds from the start of the file (where ffmpeg's -ss counts from) to the first video frame:
    /// the other streams are cut from there to stay in sync with the upscaled frames.
    public var videoStartSeconds: Double = 0
    public var hasAudio: Bool { audioCodec != nil }
}

public enum VideoProbe {
    public static func probe(_ path: String, tools: FFmpegTools) throws -> VideoInfo {
        guard FileManager.default.fileExists(atPath: path) else { throw MediaError.fileNotFound(path: path) }
        let output = try ProcessRunner.run(tools.ffprobe, ["-v", "error", "-print_format", "json", "-show_streams", "-show_format"]
                                           + tools.sourceInputOptions + [path])
        guard output.status == 0 else { throw MediaError.notAVideo(path: path, reason: output.errorSummary) }
        struct Report: Decodable {
            struct Stream: Decodable {
                struct SideData: Decodable { let rotation: Double? }
                let codec_type: String?
                let codec_name: String?
                let width: Int?
                let height: Int?
                let avg_frame_rate: String?
                let r_frame_rate: String?
                let nb_frames: String?
                let side_data_list: [SideData]?
                let tags: [String: String]?
                let disposition: [String: Int]?
                let duration: String?
                let start_time: String?
            }
            struct Format: Decodable { let duration: String?; let start_time: String? }
            let streams: [Stream]?
            let format: Format?
        }
        guard let report = try? JSONDecoder().decode(Report.self, from: Data(output.stdout)) else {
            throw MediaError.notAVideo(path: path, reason: "ffprobe output could not be parsed")
        }
        let streams = report.streams ?? []
        // Cover art in audio files is a one-picture "video" stream; it does not count.
        guard let video = streams.first(where: { $0.codec_type == "video" && $0.disposition?["attached_pic"] != 1 }),
              var width = video.width, var height = video.height, width > 0, height > 0 else {
            throw MediaError.noVideoStream(path: path)
        }
        let rotation = video.side_data_list?.compactMap(\.rotation).first ?? video.tags?["rotate"].flatMap(Double.init) ?? 0
        // ffmpeg rotates frames upright while decoding, so a quarter turn swaps the decoded size.
        if Int(abs(rotation)) % 180 == 90 { swap(&width, &height) }
        let rate = video.avg_frame_rate.flatMap(FrameRate.init) ?? video.r_frame_rate.flatMap(FrameRate.init) ?? FrameRate(numerator: 25, denominator: 1)
        let audio = streams.first(where: { $0.codec_type == "audio" })
        // Matroska/WebM do not store a frame count; duration x rate is close enough for an ETA.
        let duration = (video.duration ?? report.format?.duration).flatMap(Double.init)
        let estimated = duration.map { Int(($0 * rate.framesPerSecond).rounded()) }
        return VideoInfo(width: width, height: height, frameRate: rate, frameCount: video.nb_frames.flatMap { Int($0) } ?? estimated,
                         audioCodec: audio.map { $0.codec_name ?? "unknown" },
                         subtitleCodecs: streams.filter { $0.codec_type == "subtitle" }.map { $0.codec_name ?? "unknown" },
                         videoStartSeconds: max(0, (video.start_time.flatMap(Double.init) ?? 0) - (report.format?.start_time.flatMap(Double.init) ?? 0)))
    }
}

/// Decodes a video to raw RGB frames through an `ffmpeg` pipe, one frame at a time.
public final class VideoFrameReader {
    public let info: VideoInfo
    private let path: String
    private let process: RunningProcess
    private var finished = false

    /// `frames` selects decoded frames by index (0 = the first), so a range or a resumed run reads exactly
    /// the frames an uninterrupted run would have read at those positions.
    public init(path: String, frames: Range<Int>? = nil, tools: FFmpegTools) throws {
        self.path = path
        info = try VideoProbe.probe(path, tools: tools)
        // passthrough: one output frame per decoded frame; the default constant-rate mode duplicates
        // frames of MKV/AVI files whose timestamps do not fall on the nominal rate.
        process = try RunningProcess(tools.ffmpeg, [
            "-hide_banner", "-loglevel", "error", "-nostdin",
        ] + tools.sourceInputOptions + [
            "-i", path, "-map", "0:v:0", "-vsync", "passthrough",
        ] + Self.frameSelection(frames) + ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"], pipeInput: false)
    }

    /// ffmpeg's trim filter counts the decoded frames itself, so the selection is frame-exact.
    static func frameSelection(_ frames: Range<Int>?) -> [String] {
        guard let frames, frames != 0..<Int.max else { return [] }
        let end = frames.upperBound == Int.max ? "" : ":end_frame=\(frames.upperBound)"
        return ["-vf", "trim=start_frame=\(frames.lowerBound)\(end)"]
    }

    deinit { process.terminate() }

    /// The next frame, or nil after the last one.
    public func nextFrame() throws -> RGBImage? {
        guard !finished else { return nil }
        let byteCount = info.width * info.height * 3
        var pixels = [UInt8](repeating: 0, count: byteCount)
        let read = pixels.withUnsafeMutableBytes { process.readOutput(into: $0) }
        if read == byteCount { return RGBImage(width: info.width, height: info.height, pixels: pixels) }
        finished = true
        let status = process.wait()
        guard status == 0 else { throw MediaError.notAVideo(path: path, reason: process.errorSummary) }
        guard read == 0 else {
            throw MediaError.ffmpegFailed(path: path, reason: "decoder stopped inside a frame (\(read) of \(byteCount) bytes)")
        }
        return nil
    }

    public func close() {
        process.terminate()
    }
}

/// Encodes raw RGB frames with `ffmpeg` (video only, with the given encoder settings) into a temporary
/// file next to the destination, and renames it into place only when `finish()` succeeds. Audio,
/// subtitles and chapters are added when the segments are joined (`VideoSegmentJoiner`).
public final class VideoFrameWriter {
    public let destination: String
    public let width: Int
    public let height: Int
    private let temporary: String
    private let process: RunningProcess
    private var closed = false

    public init(destination: String, width: Int, height: Int, frameRate: FrameRate,
                encoder: VideoEncoderSettings = VideoEncoderSettings(), tools: FFmpegTools) throws {
        self.destination = destination
        self.width = width
        self.height = height
        temporary = AtomicFileWriter.temporaryPath(for: destination)
        let arguments = ["-hide_banner", "-loglevel", "error", "-y",
                         "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(width)x\(height)", "-framerate", frameRate.description,
                         "-i", "pipe:0", "-map", "0:v:0"]
            + encoder.ffmpegArguments + ["-r", frameRate.description, temporary]
        process = try RunningProcess(tools.ffmpeg, arguments, pipeInput: true)
    }

    deinit { cancel() }

    public func write(_ frame: RGBImage) throws {
        precondition(frame.width == width && frame.height == height,
                     "VideoFrameWriter was opened for \(width)x\(height), got a \(frame.width)x\(frame.height) frame")
        let complete = frame.pixels.withUnsafeBytes { process.writeInput($0) }
        if !complete {
            cancel()
            throw MediaError.ffmpegFailed(path: destination, reason: process.firstErrorLine)
        }
    }

    /// Closes the encoder, waits for it and renames the finished file into place.
    public func finish() throws {
        guard !closed else { return }
        closed = true
        process.closeInput()
        let status = process.wait()
        guard status == 0 else {
            unlink(temporary)
            throw MediaError.ffmpegFailed(path: destination, reason: process.firstErrorLine)
        }
        try AtomicFileWriter.commit(temporary: temporary, to: destination)
    }

    /// Stops the encoder and removes its partial output.
    public func cancel() {
        guard !closed else { return }
        closed = true
        process.terminate()
        unlink(temporary)
    }
}
