/// Problems with what `eval` was given, each naming the file or sequence and what was expected.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    case notFound(path: String)
    case noFrames(path: String)
    case layoutMismatch(outputs: String, reference: String)
    case missingSequence(name: String, in: String)
    case frameCountMismatch(sequence: String, outputs: Int, reference: Int)
    case sizeMismatch(output: String, reference: String)
    case tooSmall(size: String, cropBorder: Int, minimum: Int)
    case frame(sequence: String, index: Int, reason: String)

    public var description: String {
        switch self {
        case .notFound(let path):
            return "\(path): not found (expected a video file, a folder of frames, or a folder of sequence folders)"
        case .noFrames(let path):
            return "\(path): no frames found (expected PNG or JPEG files, or folders of them)"
        case .layoutMismatch(let outputs, let reference):
            return "\(outputs) and \(reference) are laid out differently (expected both to be one sequence, or both folders of sequence folders)"
        case .missingSequence(let name, let path):
            return "\(path): has no sequence \(name) (expected the same sequence folders on both sides)"
        case .frameCountMismatch(let sequence, let outputs, let reference):
            return "\(sequence): \(outputs) output frames but \(reference) reference frames (expected the same number)"
        case .sizeMismatch(let output, let reference):
            return "output frame is \(output), reference frame is \(reference) (expected the same size)"
        case .tooSmall(let size, let cropBorder, let minimum):
            return "frame \(size) is too small: after cropping \(cropBorder) pixels from each edge, expected at least \(minimum)x\(minimum)"
        case .frame(let sequence, let index, let reason):
            return "\(sequence), frame \(index): \(reason)"
        }
    }
}
