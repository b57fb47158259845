import Foundation
import Media
import VideoJobs

/// One sequence to score: frames from a folder of images (in file-name order) or a video file.
public struct FrameSource: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case images([String])
        case video(String)
    }

    public let name: String
    public let kind: Kind

    /// Reads the frames one at a time, so sequences of any length are scored in constant memory.
    func makeIterator(tools: () throws -> FFmpegTools) throws -> () throws -> RGBImage? {
        switch kind {
        case .images(let paths):
            var iterator = paths.makeIterator()
            return { try iterator.next().map { try ImageFile.read($0) } }
        case .video(let path):
            let reader = try VideoFrameReader(path: path, tools: try tools())
            return { try reader.nextFrame() }
        }
    }
}

/// Pairs a run's outputs with the ground truth: two video files or frame folders are one sequence; two
/// folders of sequence folders are paired by sequence name (the layout `upscale` writes).
public enum EvaluationInput {
    public static func pairs(outputs: String, reference: String) throws -> [(name: String, output: FrameSource, reference: FrameSource)] {
        let (outputSequences, outputIsSet) = try sequences(at: outputs)
        let (referenceSequences, referenceIsSet) = try sequences(at: reference)
        guard outputIsSet == referenceIsSet else { throw EvaluationError.layoutMismatch(outputs: outputs, reference: reference) }
        guard outputIsSet else { return [(outputSequences[0].name, outputSequences[0], referenceSequences[0])] }
        let byName = Dictionary(uniqueKeysWithValues: referenceSequences.map { ($0.name, $0) })
        return try outputSequences.map { output in
            guard let match = byName[output.name] else { throw EvaluationError.missingSequence(name: output.name, in: reference) }
            return (output.name, output, match)
        }
    }

    /// The sequences at a path, and whether it is a folder of sequence folders.
    static func sequences(at path: String) throws -> ([FrameSource], isSet: Bool) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw EvaluationError.notFound(path: path) }
        let name = URL(fileURLWithPath: path).lastPathComponent
        guard isDirectory.boolValue else { return ([FrameSource(name: name, kind: .video(path))], false) }
        let entries = try VideoJob.listing(of: path)
        let folders = entries.filter { VideoJob.isFolder((path as NSString).appendingPathComponent($0)) }
        guard !folders.isEmpty else { return ([try imageSequence(path, name: name)], false) }
        return (try folders.map { try imageSequence((path as NSString).appendingPathComponent($0), name: $0) }, true)
    }

    static func imageSequence(_ folder: String, name: String) throws -> FrameSource {
        let frames = try VideoJob.listing(of: folder).filter {
            ImageFile.frameExtensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased())
        }
        guard !frames.isEmpty else { throw EvaluationError.noFrames(path: folder) }
        return FrameSource(name: name, kind: .images(frames.map { (folder as NSString).appendingPathComponent($0) }))
    }
}
