import Foundation
import Media

/// The hidden folder beside an output where a job keeps what it needs to resume: the checkpoint, the
/// finished video segments and the frames of the segment still open. It is removed when the job is done.
struct WorkFolder: Equatable {
    let path: String

    /// `.<file name>.resume` next to a video output.
    static func forVideo(output: String) -> WorkFolder {
        sibling(of: output)
    }

    /// `.<sequence>.resume` next to a sequence's output folder.
    static func forSequence(outputFolder: String) -> WorkFolder {
        sibling(of: outputFolder)
    }

    private static func sibling(of path: String) -> WorkFolder {
        let url = URL(fileURLWithPath: path)
        return WorkFolder(path: url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).resume").path)
    }

    var checkpointPath: String { file("checkpoint") }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    static func segmentName(_ index: Int) -> String { String(format: "segment-%06d.nut", index) }

    func pendingFramePath(_ index: Int) -> String { file(String(format: "frame-%09d.png", index)) }

    var exists: Bool { FileManager.default.fileExists(atPath: path) }

    func create() throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw VideoJobError.outputUnwritable(path: path, reason: "cannot create the folder")
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Deletes everything an interrupted run may have left besides what the checkpoint vouches for: the
    /// checkpoint itself, segments below `segments`, and pending frames in `pendingFrames`.
    func removeLeftovers(keepingSegments segments: Int, pendingFrames: Range<Int>) throws {
        let keep = Set(["checkpoint"] + (0..<segments).map(Self.segmentName)
                       + pendingFrames.map { URL(fileURLWithPath: pendingFramePath($0)).lastPathComponent })
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where !keep.contains(name) {
            try? FileManager.default.removeItem(atPath: file(name))
        }
        for name in keep where !FileManager.default.fileExists(atPath: file(name)) {
            throw VideoJobError.checkpointUnreadable(path: checkpointPath, reason: "\(name) is missing from \(path)")
        }
    }
}
