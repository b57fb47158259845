import Foundation

/// Proves, before any frame is upscaled, that the local ffmpeg can write the requested video: the
/// encoder is in this build, it takes the pixel format, and a two-frame trial encode with every option
/// (joined into the destination's container) succeeds. A long job must not fail at its first frame, or
/// worse at the final join, because of a typo in an encoder option.
public enum VideoEncoderCheck {
    public static func verify(_ settings: VideoEncoderSettings, containerExtension: String, tools: FFmpegTools) throws {
        try settings.validate()
        let codec = settings.codec.rawValue
        let available = try availableEncoders(tools: tools)
        guard available.contains(codec) else {
            throw VideoEncoderSettingsError.encoderUnavailable(
                codec: codec, ffmpeg: tools.ffmpeg,
                available: VideoEncoderSettings.Codec.allCases.map(\.rawValue).filter(available.contains))
        }
        let pixelFormats = try supportedPixelFormats(of: codec, tools: tools)
        let pixelFormat = settings.effectivePixelFormat.rawValue
        if !pixelFormats.isEmpty, !pixelFormats.contains(pixelFormat) {
            throw VideoEncoderSettingsError.pixelFormatUnsupported(codec: codec, pixelFormat: pixelFormat, supported: pixelFormats)
        }
        try trialEncode(settings, containerExtension: containerExtension, tools: tools)
    }

    /// Encoder names from `ffmpeg -encoders` (lines like " V....D libx264   libx264 H.264 ...").
    static func availableEncoders(tools: FFmpegTools) throws -> Set<String> {
        let output = try ProcessRunner.run(tools.ffmpeg, ["-hide_banner", "-encoders"])
        guard output.status == 0 else { throw MediaError.ffmpegFailed(path: tools.ffmpeg, reason: output.errorSummary) }
        var names = Set<String>()
        for line in String(decoding: output.stdout, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, fields[0].count == 6, fields[0].first == "V" { names.insert(String(fields[1])) }
        }
        return names
    }

    /// The "Supported pixel formats:" line of `ffmpeg -h encoder=NAME`; empty when the encoder does not say.
    static func supportedPixelFormats(of codec: String, tools: FFmpegTools) throws -> [String] {
        let output = try ProcessRunner.run(tools.ffmpeg, ["-hide_banner", "-h", "encoder=\(codec)"])
        let text = String(decoding: output.stdout, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.contains("Supported pixel formats:") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return line[line.index(after: colon)...].split(separator: " ").map(String.init)
    }

    /// Two grey 64x64 frames through the real encoder settings, then joined into the destination's
    /// container the way the finished job will be (stream copy).
    static func trialEncode(_ settings: VideoEncoderSettings, containerExtension: String, tools: FFmpegTools) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("stream-diffvsr-encoder-check-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let segment = folder + "/trial.nut"
        let rate = FrameRate(numerator: 25, denominator: 1)
        let frame = RGBImage(width: 64, height: 64, pixels: [UInt8](repeating: 128, count: 64 * 64 * 3))
        let codec = settings.codec.rawValue
        do {
            let writer = try VideoFrameWriter(destination: segment, width: 64, height: 64, frameRate: rate, encoder: settings, tools: tools)
            try writer.write(frame)
            try writer.write(frame)
            try writer.finish()
        } catch MediaError.ffmpegFailed(_, let reason) {
            throw VideoEncoderSettingsError.rejected(codec: codec, container: containerExtension, reason: reason)
        }
        let joined = try ProcessRunner.run(tools.ffmpeg, ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", segment,
                                                         "-map", "0:v:0", "-c", "copy", folder + "/trial." + containerExtension])
        guard joined.status == 0 else {
            throw VideoEncoderSettingsError.rejected(codec: codec, container: containerExtension, reason: joined.firstErrorLine)
        }
    }
}
