import HTTPTypes

/// Everything the web app refuses or that fails inside a job, each with the HTTP status the client gets
/// and one line the page shows as it is.
public enum WebAppError: Error, CustomStringConvertible, Equatable {
    case uploadTooLarge(limitBytes: Int)
    case emptyUpload
    case notAVideo(name: String, reason: String)
    case noVideoStream(name: String)
    case zeroFrames(name: String)
    case unsupportedSize(name: String, width: Int, height: Int, minimum: Int, maximum: Int)
    case unknownUpload(id: String)
    case unknownJob(id: String)
    case uploadAlreadyUsed(id: String)
    case invalidSteps(found: Int, range: ClosedRange<Int>)
    case invalidRequest(String)
    case resultNotReady(id: String)
    case cancelled
    case streamFrame(String)
    /// The access model refused the request (origin, host name); says which rule.
    case forbidden(String)
    case unauthorized
    case unsupportedContentType(found: String?, expected: String)
    /// A cap of `ServerLimits` is reached; the client may try again later.
    case busy(String)
    case tooManyFrames(name: String, frames: Int, limit: Int)
    case insufficientStorage(freeBytes: Int64, requiredBytes: Int64)

    public var description: String {
        switch self {
        case .uploadTooLarge(let limit):
            return "the upload is larger than the limit of \(WebAppError.megabytes(limit)) (STREAM_DIFFVSR_MAX_UPLOAD_MB)"
        case .emptyUpload:
            return "the upload is empty (expected a video file)"
        case .notAVideo(let name, let reason):
            return "\(name): not a video file ffmpeg can read (\(reason))"
        case .noVideoStream(let name):
            return "\(name): the file has no video stream (expected a video, found audio or data only)"
        case .zeroFrames(let name):
            return "\(name): the video has no frames"
        case .unsupportedSize(let name, let width, let height, let minimum, let maximum):
            return "\(name): frames are \(width)x\(height); supported sizes are \(minimum)x\(minimum) up to \(maximum) pixels on the longer side (STREAM_DIFFVSR_MAX_INPUT_SIDE)"
        case .unknownUpload(let id):
            return "upload \(id) not found (it expired, was used by a job, or the server restarted)"
        case .unknownJob(let id):
            return "job \(id) not found"
        case .uploadAlreadyUsed(let id):
            return "upload \(id) already belongs to a job"
        case .invalidSteps(let found, let range):
            return "inference steps must be between \(range.lowerBound) and \(range.upperBound), found \(found)"
        case .invalidRequest(let reason):
            return reason
        case .resultNotReady(let id):
            return "job \(id) has no result (it is not finished)"
        case .cancelled:
            return "cancelled"
        case .streamFrame(let reason):
            return "bad stream frame: \(reason)"
        case .forbidden(let reason):
            return "forbidden: \(reason)"
        case .unauthorized:
            return "this server needs its access token: open the address printed at start-up (/?token=...) or send Authorization: Bearer <token>"
        case .unsupportedContentType(let found, let expected):
            return "Content-Type \(found.map { "'\($0)'" } ?? "missing"), expected \(expected)"
        case .busy(let reason):
            return "the server is busy: \(reason); try again later"
        case .tooManyFrames(let name, let frames, let limit):
            return "\(name): \(frames) frames, more than the limit of \(limit) per job (STREAM_DIFFVSR_MAX_FRAMES)"
        case .insufficientStorage(let free, let required):
            return "the server's disk is nearly full (\(WebAppError.megabytes(Int(free))) free, \(WebAppError.megabytes(Int(required))) needed); try again later"
        }
    }

    public var status: HTTPResponse.Status {
        switch self {
        case .uploadTooLarge: return .contentTooLarge
        case .notAVideo: return .unsupportedMediaType
        case .emptyUpload, .noVideoStream, .zeroFrames, .unsupportedSize, .invalidSteps: return .unprocessableContent
        case .unknownUpload, .unknownJob: return .notFound
        case .uploadAlreadyUsed, .resultNotReady: return .conflict
        case .invalidRequest, .streamFrame: return .badRequest
        case .cancelled: return .conflict
        case .forbidden: return .forbidden
        case .unauthorized: return .unauthorized
        case .unsupportedContentType: return .unsupportedMediaType
        case .busy: return .serviceUnavailable
        case .tooManyFrames: return .unprocessableContent
        case .insufficientStorage: return .init(code: 507, reasonPhrase: "Insufficient Storage")
        }
    }

    static func megabytes(_ bytes: Int) -> String {
        bytes % (1 << 20) == 0 ? "\(bytes >> 20) MB" : bytes >= 10 << 20 ? "\(bytes >> 20) MB" : "\(bytes) bytes"
    }
}
