import Foundation

/// How upscaled frames are encoded: the encoder, its quality (CRF) and speed (preset), the pixel format,
/// and free-form encoder options. The defaults are what the tool always wrote: H.264, CRF 16, preset
/// medium, yuv420p.
public struct VideoEncoderSettings: Sendable, Equatable, Codable {
    public enum Codec: String, Sendable, Codable, CaseIterable {
        case libx264, libx265, libsvtav1, libaomAV1 = "libaom-av1", ffv1

        /// Valid `--crf` values; nil for a lossless codec that has no quality setting.
        public var crfRange: ClosedRange<Int>? {
            switch self {
            case .libx264, .libx265: return 0...51
            case .libsvtav1: return 1...63
            case .libaomAV1: return 0...63
            case .ffv1: return nil
            }
        }

        /// The CRF used when none is given: 16 keeps today's H.264 output; the others are chosen to look alike.
        var defaultCRF: Int? {
            switch self {
            case .libx264: return 16
            case .libx265: return 18
            case .libsvtav1, .libaomAV1: return 24
            case .ffv1: return nil
            }
        }

        /// What `--preset` accepts, in words for the error message.
        var presetDescription: String {
            switch self {
            case .libx264, .libx265: return VideoEncoderSettings.namedPresets.joined(separator: ", ")
            case .libsvtav1: return "0 (slowest) to 13 (fastest)"
            case .libaomAV1: return "0 (slowest) to 8 (fastest), passed as -cpu-used"
            case .ffv1: return "none (ffv1 has no presets)"
            }
        }

        func acceptsPreset(_ preset: String) -> Bool {
            switch self {
            case .libx264, .libx265: return VideoEncoderSettings.namedPresets.contains(preset)
            case .libsvtav1: return Int(preset).map { (0...13).contains($0) } ?? false
            case .libaomAV1: return Int(preset).map { (0...8).contains($0) } ?? false
            case .ffv1: return false
            }
        }

        /// The pixel format used when none is given: ffv1 keeps the RGB frames exactly (lossless), the
        /// others use the 4:2:0 every player decodes.
        public var defaultPixelFormat: PixelFormat { self == .ffv1 ? .bgr0 : .yuv420p }
    }

    public enum PixelFormat: String, Sendable, Codable, CaseIterable {
        case yuv420p, yuv444p, yuv420p10le
        /// 8-bit RGB (a padding byte per pixel): no colour conversion, so ffv1 stores the frames bit for bit.
        case bgr0
    }

    /// One `--encoder-option KEY=VALUE`, passed to ffmpeg as `-KEY VALUE` after the encoder.
    public struct Option: Sendable, Equatable, Codable {
        public let key: String
        public let value: String

        /// Parses `KEY=VALUE`. Keys that would change what ffmpeg reads, writes or maps (not how it
        /// encodes) are refused: the job decides those.
        public init(parsing text: String) throws {
            guard let separator = text.firstIndex(of: "=") else { throw VideoEncoderSettingsError.malformedOption(text) }
            let key = String(text[..<separator]), value = String(text[text.index(after: separator)...])
            guard let first = key.unicodeScalars.first, CharacterSet.alphanumerics.contains(first),
                  key.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "_-:.".unicodeScalars.contains($0) }) else {
                throw VideoEncoderSettingsError.malformedOption(text)
            }
            let base = String(key.split(separator: ":").first ?? "")
            if Self.reservedKeys.contains(base) || Self.reservedPrefixes.contains(where: { base.hasPrefix($0) }) {
                throw VideoEncoderSettingsError.reservedOption(key)
            }
            self.key = key
            self.value = value
        }

        /// Inputs, outputs, stream selection, filters and the settings that have their own flag.
        static let reservedKeys: Set<String> = [
            "i", "f", "y", "n", "c", "codec", "vcodec", "acodec", "scodec", "dcodec", "an", "vn", "sn", "dn",
            "vf", "af", "r", "s", "t", "to", "ss", "sseof", "fs", "aspect", "pix_fmt", "crf", "preset", "cpu-used",
            "pass", "passlogfile", "attach", "target", "timestamp", "vsync", "fps_mode", "shortest", "progress",
            "lavfi", "loglevel", "v", "report", "hide_banner", "nostdin", "stdin", "vframes", "aframes", "dframes",
        ]
        static let reservedPrefixes = ["map", "filter", "frames", "metadata", "disposition", "dump", "stats", "bsf", "tag"]
    }

    public var codec: Codec
    /// nil: the codec's default (16 for libx264).
    public var crf: Int?
    /// nil: medium for libx264/libx265, the encoder's own default otherwise.
    public var preset: String?
    /// nil: the codec's default pixel format.
    public var pixelFormat: PixelFormat?
    public var options: [Option]

    public init(codec: Codec = .libx264, crf: Int? = nil, preset: String? = nil, pixelFormat: PixelFormat? = nil, options: [Option] = []) {
        self.codec = codec
        self.crf = crf
        self.preset = preset
        self.pixelFormat = pixelFormat
        self.options = options
    }

    static let namedPresets = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"]

    public var effectivePixelFormat: PixelFormat { pixelFormat ?? codec.defaultPixelFormat }

    /// Checks the combination without running anything.
    public func validate() throws {
        if let crf {
            guard let range = codec.crfRange else { throw VideoEncoderSettingsError.crfNotApplicable(codec: codec.rawValue) }
            guard range.contains(crf) else {
                throw VideoEncoderSettingsError.crfOutOfRange(codec: codec.rawValue, crf: crf, range: range)
            }
        }
        if let preset, !codec.acceptsPreset(preset) {
            throw VideoEncoderSettingsError.unknownPreset(codec: codec.rawValue, preset: preset, expected: codec.presetDescription)
        }
    }

    /// The ffmpeg output arguments that select and configure the encoder.
    public var ffmpegArguments: [String] {
        var arguments = ["-c:v", codec.rawValue, "-pix_fmt", effectivePixelFormat.rawValue]
        if let crf = crf ?? codec.defaultCRF {
            arguments += ["-crf", "\(crf)"]
            // libaom is in bitrate mode unless the bitrate is zero.
            if codec == .libaomAV1 { arguments += ["-b:v", "0"] }
        }
        switch codec {
        case .libx264, .libx265: arguments += ["-preset", preset ?? "medium"]
        case .libsvtav1: if let preset { arguments += ["-preset", preset] }
        case .libaomAV1: if let preset { arguments += ["-cpu-used", preset] }
        case .ffv1: break
        }
        // x265 prints its settings on stderr at every start; keep ffmpeg's error line the last one.
        if codec == .libx265 { arguments += ["-x265-params", "log-level=error"] }
        for option in options { arguments += ["-\(option.key)", option.value] }
        return arguments
    }

    /// A short description for checkpoints: segments encoded with other settings cannot be joined.
    public var fingerprint: String {
        ffmpegArguments.joined(separator: " ")
    }
}

public enum VideoEncoderSettingsError: Error, CustomStringConvertible, Equatable {
    case malformedOption(String)
    case reservedOption(String)
    case crfNotApplicable(codec: String)
    case crfOutOfRange(codec: String, crf: Int, range: ClosedRange<Int>)
    case unknownPreset(codec: String, preset: String, expected: String)
    case encoderUnavailable(codec: String, ffmpeg: String, available: [String])
    case pixelFormatUnsupported(codec: String, pixelFormat: String, supported: [String])
    case rejected(codec: String, container: String, reason: String)

    public var description: String {
        switch self {
        case .malformedOption(let text):
            return "--encoder-option \(text): expected KEY=VALUE with a key of letters, digits, _ - : . (e.g. tune=film)"
        case .reservedOption(let key):
            return "--encoder-option \(key): this key changes inputs, outputs or streams, or has its own flag (--codec, --crf, --preset, --pix-fmt); it cannot be passed through"
        case .crfNotApplicable(let codec):
            return "--crf does not apply to \(codec) (it is lossless); leave it out"
        case .crfOutOfRange(let codec, let crf, let range):
            return "--crf \(crf) is out of range for \(codec) (expected \(range.lowerBound)...\(range.upperBound))"
        case .unknownPreset(let codec, let preset, let expected):
            return "--preset \(preset) is not a preset of \(codec) (expected \(expected))"
        case .encoderUnavailable(let codec, let ffmpeg, let available):
            let list = available.isEmpty ? "none of the supported ones" : available.joined(separator: ", ")
            return "encoder \(codec) is not in this ffmpeg build (\(ffmpeg)); it has: \(list)"
        case .pixelFormatUnsupported(let codec, let pixelFormat, let supported):
            return "--pix-fmt \(pixelFormat) is not supported by \(codec) (it takes: \(supported.joined(separator: ", ")))"
        case .rejected(let codec, let container, let reason):
            return "ffmpeg refused to encode \(codec) into .\(container) with these settings (\(reason))"
        }
    }
}
