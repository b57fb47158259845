import Media

/// The encoding choice the page offers: three H.264 qualities (the result stays an MP4 every browser
/// plays). `standard` is what the CLI writes by default.
public enum OutputQuality: String, Codable, Sendable, CaseIterable {
    case standard, high, small

    public var encoder: VideoEncoderSettings {
        switch self {
        case .standard: return VideoEncoderSettings(codec: .libx264, crf: 16)
        case .high: return VideoEncoderSettings(codec: .libx264, crf: 10, preset: "slow")
        case .small: return VideoEncoderSettings(codec: .libx264, crf: 23)
        }
    }
}
