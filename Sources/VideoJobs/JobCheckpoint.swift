import Crypto
import Foundation
import Media

/// What a job has finished, saved beside its output every N frames (atomically, flushed to disk) so that
/// an interrupted run continues where it stopped. The file is a magic line, an 8-byte little-endian
/// header length, a JSON header, then the upscaler's opaque state.
struct JobCheckpoint: Codable, Equatable {
    static let magic = Array("stream-diffvsr job checkpoint\n".utf8)
    static let version = 1
    /// A header larger than this is not ours (it is a few hundred bytes).
    static let maximumHeaderBytes = 1 << 20

    var version = JobCheckpoint.version
    /// Identifies the input (see `InputFingerprint`).
    var input: String
    /// The selected frame indices, e.g. "0..<120" or "30..<end".
    var frames: String
    /// Encoder settings and segment length for video outputs; nil for frame folders.
    var encoding: String?
    var framesDone: Int
    /// Every frame is written; only the final join (videos) or clean-up remains.
    var complete: Bool
    var stateBytes: Int

    static func describe(_ frames: Range<Int>) -> String {
        "\(frames.lowerBound)..<" + (frames.upperBound == Int.max ? "end" : "\(frames.upperBound)")
    }

    func write(state: [UInt8], to path: String) throws {
        var header = self
        header.stateBytes = state.count
        let json = Array(try JSONEncoder().encode(header))
        var length = [UInt8](repeating: 0, count: 8)
        for byte in 0..<8 { length[byte] = UInt8(truncatingIfNeeded: json.count >> (8 * byte)) }
        do {
            try AtomicFileWriter.writeDurably([Self.magic, length, json, state], to: path)
        } catch MediaError.unwritable(_, let reason) {
            throw VideoJobError.outputUnwritable(path: path, reason: reason)
        }
    }

    /// The checkpoint and its upscaler state, or nil when there is no file.
    static func read(from path: String) throws -> (checkpoint: JobCheckpoint, state: [UInt8])? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VideoJobError.checkpointUnreadable(path: path, reason: "cannot open the file")
        }
        let bytes = [UInt8](data)
        let lengthStart = magic.count, headerStart = lengthStart + 8
        guard bytes.count >= headerStart, Array(bytes[0..<magic.count]) == magic else {
            throw VideoJobError.checkpointUnreadable(path: path, reason: "not a stream-diffvsr job checkpoint")
        }
        let length = (0..<8).reduce(0) { $0 | Int(bytes[lengthStart + $1]) << (8 * $1) }
        guard length > 0, length <= maximumHeaderBytes, length <= bytes.count - headerStart else {
            throw VideoJobError.checkpointUnreadable(path: path, reason: "header length \(length) does not fit the \(bytes.count)-byte file")
        }
        let header: JobCheckpoint
        do {
            header = try JSONDecoder().decode(JobCheckpoint.self, from: Data(bytes[headerStart..<(headerStart + length)]))
        } catch {
            throw VideoJobError.checkpointUnreadable(path: path, reason: "the header is not valid JSON")
        }
        guard header.version == version else {
            throw VideoJobError.checkpointUnreadable(path: path, reason: "format version \(header.version), expected \(version)")
        }
        let stateStart = headerStart + length
        guard header.framesDone >= 0, header.stateBytes == bytes.count - stateStart else {
            throw VideoJobError.checkpointUnreadable(path: path, reason: "expected \(header.stateBytes) bytes of state, found \(bytes.count - stateStart)")
        }
        return (header, Array(bytes[stateStart...]))
    }

    /// Throws when `other` (what this run would write) differs in anything that changes the frames.
    func verifyMatches(_ other: JobCheckpoint, path: String) throws {
        if frames != other.frames {
            throw VideoJobError.checkpointMismatch(path: path, difference: "frames \(frames) were selected, this run selects \(other.frames)")
        }
        if input != other.input { throw VideoJobError.checkpointMismatch(path: path, difference: "the input has changed") }
        if encoding != other.encoding {
            throw VideoJobError.checkpointMismatch(path: path, difference: "encoded with \(encoding ?? "none"), this run uses \(other.encoding ?? "none")")
        }
    }
}

/// A cheap identity for an input: enough to notice that a checkpoint is resumed against another file or
/// folder, without reading hours of video.
enum InputFingerprint {
    /// Size plus the first and last MiB of the file.
    static func video(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw MediaError.fileNotFound(path: path) }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        var hash = SHA256()
        let window: UInt64 = 1 << 20
        try handle.seek(toOffset: 0)
        hash.update(data: try handle.read(upToCount: Int(window)) ?? Data())
        if size > window {
            try handle.seek(toOffset: max(size - window, window))
            hash.update(data: try handle.read(upToCount: Int(window)) ?? Data())
        }
        return "video \(size) bytes sha256-ends " + hex(hash.finalize())
    }

    /// Every selected frame's name and size, and the first frame's bytes.
    static func frames(_ paths: [String]) throws -> String {
        var hash = SHA256()
        for path in paths {
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
            hash.update(data: Data("\(URL(fileURLWithPath: path).lastPathComponent)\u{0}\(size)\u{0}".utf8))
        }
        if let first = paths.first {
            guard let bytes = FileManager.default.contents(atPath: first) else { throw MediaError.unreadable(path: first, reason: "cannot open the file") }
            hash.update(data: bytes)
        }
        return "\(paths.count) frames sha256 " + hex(hash.finalize())
    }

    private static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
