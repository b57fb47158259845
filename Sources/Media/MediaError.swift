/// Everything that can go wrong getting frames in or out, each naming the file and what was expected.
public enum MediaError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    case unsupportedImageFormat(path: String)
    case corruptImage(path: String, reason: String)
    case unwritable(path: String, reason: String)
    case invalidSize(path: String, width: Int, height: Int)
    /// The header declares more pixels than the caller allows; refused before any pixel memory is allocated.
    case imageTooLarge(path: String, width: Int, height: Int, maxPixels: Int)
    case ffmpegMissing(tool: String)
    case notAVideo(path: String, reason: String)
    case noVideoStream(path: String)
    case ffmpegFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): file not found"
        case .unreadable(let path, let reason):
            return "\(path): cannot read the file (\(reason))"
        case .unsupportedImageFormat(let path):
            return "\(path): not a PNG or JPEG image (expected a .png/.jpg file with a PNG or JPEG signature)"
        case .corruptImage(let path, let reason):
            return "\(path): corrupt or truncated image (\(reason))"
        case .unwritable(let path, let reason):
            return "\(path): cannot write the output (\(reason))"
        case .invalidSize(let path, let width, let height):
            return "\(path): image size \(width)x\(height) is not usable (expected at least 1x1)"
        case .imageTooLarge(let path, let width, let height, let maxPixels):
            return "\(path): image size \(width)x\(height) exceeds the limit of \(maxPixels) pixels"
        case .ffmpegMissing(let tool):
            return "\(tool) not found on PATH (needed for video files; install ffmpeg or set FFMPEG_PATH/FFPROBE_PATH)"
        case .notAVideo(let path, let reason):
            return "\(path): not a readable video file (\(reason))"
        case .noVideoStream(let path):
            return "\(path): the file has no video stream (expected a video file)"
        case .ffmpegFailed(let path, let reason):
            return "\(path): ffmpeg failed (\(reason))"
        }
    }
}
