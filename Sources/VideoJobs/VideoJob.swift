import Foundation
import Media

/// One sequence of still frames: a folder of PNG/JPEG files, processed in name order.
public struct FrameSequence: Sendable, Equatable {
    /// The folder's name, also the name of its output folder.
    public let name: String
    public let folder: String
    /// File names, sorted like Python's `sorted(os.listdir(...))` (by Unicode code points).
    public let frames: [String]
    public let outputFolder: String

    public var framePaths: [String] { frames.map { (folder as NSString).appendingPathComponent($0) } }
}

/// What an `upscale` run will read and write, decided before any model is loaded.
public enum VideoJob: Sendable, Equatable {
    /// Frame folders. Each goes to `<out>/<name of its parent folder>/<its name>/<same file name>`,
    /// the layout of the original inference.py.
    case sequences([FrameSequence])
    /// A video file, re-encoded to `output` (H.264) with its audio.
    case video(input: String, output: String)

    /// Extensions that make `--out-path` a video file rather than a folder.
    public static let videoExtensions: Set<String> = ["mp4", "mov", "mkv", "m4v"]

    /// Works out the job from the two paths: a folder containing folders is a set of sequences, a folder
    /// containing only frames is one sequence, and a file is a video.
    public static func plan(inPath: String, outPath: String) throws -> VideoJob {
        let input = standardized(inPath)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
            throw VideoJobError.inputNotFound(path: inPath)
        }
        guard isDirectory.boolValue else {
            let output = URL(fileURLWithPath: outPath)
            if videoExtensions.contains(output.pathExtension.lowercased()) {
                return .video(input: input, output: output.path)
            }
            let stem = URL(fileURLWithPath: input).deletingPathExtension().lastPathComponent
            return .video(input: input, output: output.appendingPathComponent("\(stem).mp4").path)
        }
        let entries = try listing(of: input)
        let folders = entries.filter { isFolder((input as NSString).appendingPathComponent($0)) }
        let sequenceFolders = folders.isEmpty ? [input] : folders.map { (input as NSString).appendingPathComponent($0) }
        var sequences: [FrameSequence] = []
        for folder in sequenceFolders {
            let frames = try listing(of: folder).filter {
                ImageFile.frameExtensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased())
                    && !isFolder((folder as NSString).appendingPathComponent($0))
            }
            guard !frames.isEmpty else { throw VideoJobError.noFrames(path: folder) }
            let url = URL(fileURLWithPath: folder)
            let parentName = url.deletingLastPathComponent().lastPathComponent
            let outputFolder = URL(fileURLWithPath: outPath).appendingPathComponent(parentName).appendingPathComponent(url.lastPathComponent).path
            sequences.append(FrameSequence(name: url.lastPathComponent, folder: folder, frames: frames, outputFolder: outputFolder))
        }
        return .sequences(sequences)
    }

    /// Entries in Python's `sorted()` order, hidden files (.DS_Store and the like) left out.
    public static func listing(of folder: String) throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw MediaError.unreadable(path: folder, reason: "cannot list the folder")
        }
        return names.filter { !$0.hasPrefix(".") }.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
    }

    public static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    static func standardized(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    public var frameCount: Int? {
        switch self {
        case .sequences(let sequences): return sequences.reduce(0) { $0 + $1.frames.count }
        case .video: return nil
        }
    }
}
