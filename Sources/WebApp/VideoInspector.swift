import Foundation
import Media

/// What the server learns about an uploaded file before accepting it: more than `VideoProbe` (the codec,
/// pixel format and container decide whether a browser can play it, and the packet count finds videos
/// with no frames whose container does not say).
struct UploadedVideoInfo: Codable, Sendable, Equatable {
    let width: Int
    let height: Int
    let frameRate: Double
    let frameCount: Int
    let hasAudio: Bool
    let videoCodec: String
    let browserPlayable: Bool
}

struct VideoInspector {
    /// Restricted to reading the upload itself with an allow-listed demuxer (see `FFmpegTools.forUntrustedInput`).
    let tools: FFmpegTools
    let maxInputSide: Int
    var maxFrames = Int.max

    /// Probes the file and applies every rule a video must pass; `name` is the user's file name, for messages.
    func inspect(path: String, name: String) throws -> UploadedVideoInfo {
        let info: VideoInfo
        do {
            info = try VideoProbe.probe(path, tools: tools)
        } catch MediaError.noVideoStream {
            throw WebAppError.noVideoStream(name: name)
        } catch MediaError.notAVideo(_, let reason) {
            throw WebAppError.notAVideo(name: name, reason: reason.replacingOccurrences(of: path, with: name))
        }
        let report = try probeDetails(path: path)
        guard report.frames > 0 else { throw WebAppError.zeroFrames(name: name) }
        guard report.frames <= maxFrames else { throw WebAppError.tooManyFrames(name: name, frames: report.frames, limit: maxFrames) }
        let minimum = ServerConfiguration.minInputSide
        guard min(info.width, info.height) >= minimum, max(info.width, info.height) <= maxInputSide else {
            throw WebAppError.unsupportedSize(name: name, width: info.width, height: info.height, minimum: minimum, maximum: maxInputSide)
        }
        // What Chromium, Firefox and Safari all play: H.264 4:2:0 in MP4/MOV with AAC or MP3 audio (or none).
        let playable = report.codec == "h264" && report.pixelFormat == "yuv420p" && report.container.contains("mp4")
            && (info.audioCodec.map { ["aac", "mp3"].contains($0) } ?? true)
        return UploadedVideoInfo(width: info.width, height: info.height, frameRate: info.frameRate.framesPerSecond,
                                 frameCount: report.frames, hasAudio: info.hasAudio, videoCodec: report.codec,
                                 browserPlayable: playable)
    }

    private struct Details {
        let codec: String
        let pixelFormat: String
        let container: String
        let frames: Int
    }

    /// Counts packets instead of decoding: one packet per frame for every video codec ffmpeg muxes.
    private func probeDetails(path: String) throws -> Details {
        let output = try ToolProcess.run(tools.ffprobe, [
            "-v", "error", "-select_streams", "v:0", "-count_packets", "-print_format", "json",
            "-show_entries", "stream=codec_name,pix_fmt,nb_read_packets:format=format_name",
        ] + tools.sourceInputOptions + [path])
        struct Report: Decodable {
            struct Stream: Decodable {
                let codec_name: String?
                let pix_fmt: String?
                let nb_read_packets: String?
            }
            struct Format: Decodable { let format_name: String? }
            let streams: [Stream]?
            let format: Format?
        }
        guard output.status == 0, let report = try? JSONDecoder().decode(Report.self, from: output.stdout),
              let stream = report.streams?.first else {
            throw WebAppError.notAVideo(name: (path as NSString).lastPathComponent, reason: output.errorSummary)
        }
        return Details(codec: stream.codec_name ?? "unknown", pixelFormat: stream.pix_fmt ?? "unknown",
                       container: report.format?.format_name ?? "", frames: stream.nb_read_packets.flatMap { Int($0) } ?? 0)
    }

    /// Re-encodes a video the browser cannot play to H.264 (at most 1280 pixels wide, it is only a preview).
    func makePreview(of path: String, to destination: String) throws {
        let output = try ToolProcess.run(tools.ffmpeg, ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
            + tools.sourceInputOptions + [
                "-i", path,
                "-map", "0:v:0", "-map", "0:a:0?", "-vsync", "passthrough", "-vf", "scale='min(1280,iw)':-2",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-movflags", "+faststart", destination,
            ])
        guard output.status == 0 else {
            throw MediaError.ffmpegFailed(path: destination, reason: output.errorSummary)
        }
    }
}

/// Runs a short command to completion, collecting stdout and stderr (both drained at once, so a chatty
/// child never blocks on a full pipe).
enum ToolProcess {
    struct Output {
        let status: Int32
        let stdout: Data
        let stderr: Data
        var errorSummary: String {
            String(decoding: stderr, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "exit status \(status)"
        }
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw MediaError.ffmpegMissing(tool: executable)
        }
        final class Collected: @unchecked Sendable { var data = Data() }
        let errorOutput = Collected()
        let collector = DispatchGroup()
        collector.enter()
        DispatchQueue.global().async {
            errorOutput.data = stderr.fileHandleForReading.readDataToEndOfFile()
            collector.leave()
        }
        let outputData = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        collector.wait()
        return Output(status: process.terminationStatus, stdout: outputData, stderr: errorOutput.data)
    }
}
