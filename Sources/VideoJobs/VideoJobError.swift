/// Input and output problems found by the job runner, each naming the path and what was expected.
public enum VideoJobError: Error, CustomStringConvertible, Equatable {
    case inputNotFound(path: String)
    case noFrames(path: String)
    case frameSizeMismatch(path: String, expected: String, found: String)
    case frameTooSmall(path: String, size: String, multiple: Int)
    case outputUnwritable(path: String, reason: String)
    case upscalerOutputSizeChanged(sequence: String, expected: String, found: String)
    case invalidSelection(String)
    case invalidOption(String)
    case selectionEmpty(path: String, selection: String, frameCount: Int)
    case resumeUnsupported(sequence: String)
    case interruptedRunFound(folder: String)
    case checkpointUnreadable(path: String, reason: String)
    case checkpointMismatch(path: String, difference: String)

    public var description: String {
        switch self {
        case .inputNotFound(let path):
            return "\(path): input not found (expected a folder of frame folders, a folder of frames, or a video file)"
        case .noFrames(let path):
            return "\(path): no frames found (expected PNG or JPEG files, or folders of them)"
        case .frameSizeMismatch(let path, let expected, let found):
            return "\(path): frame is \(found), expected \(expected) like the first frame of its sequence"
        case .frameTooSmall(let path, let size, let multiple):
            return "\(path): frame is \(size), expected at least \(multiple)x\(multiple)"
        case .outputUnwritable(let path, let reason):
            return "\(path): cannot write the output (\(reason))"
        case .upscalerOutputSizeChanged(let sequence, let expected, let found):
            return "\(sequence): the upscaler returned a \(found) frame after \(expected) ones (expected one size per sequence)"
        case .invalidSelection(let reason), .invalidOption(let reason):
            return reason
        case .selectionEmpty(let path, let selection, let frameCount):
            return "\(path): \(selection) selects no frames (it has \(frameCount))"
        case .resumeUnsupported(let sequence):
            return "\(sequence): this upscaler cannot continue from a checkpoint (expected a resumable upscaler)"
        case .interruptedRunFound(let folder):
            return "\(folder): an interrupted run left its checkpoint here; pass --resume to continue it, or delete this folder to start over"
        case .checkpointUnreadable(let path, let reason):
            return "\(path): cannot read the checkpoint (\(reason)); delete its folder to start over"
        case .checkpointMismatch(let path, let difference):
            return "\(path): the checkpoint belongs to another run (\(difference)); delete its folder to start over, or run with the same settings"
        }
    }
}
