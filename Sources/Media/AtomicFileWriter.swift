import Foundation

/// Writes files so that a reader never sees half of one: the bytes go to a hidden temporary name
/// next to the destination and are renamed over it only when complete.
public enum AtomicFileWriter {
    /// A fresh temporary path in the destination's folder, keeping its extension (ffmpeg picks the
    /// container from it).
    public static func temporaryPath(for destination: String) -> String {
        let url = URL(fileURLWithPath: destination)
        let folder = url.deletingLastPathComponent().path
        let ext = url.pathExtension
        let stem = url.deletingPathExtension().lastPathComponent
        let token = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let name = ".\(stem).partial-\(getpid())-\(token)" + (ext.isEmpty ? "" : ".\(ext)")
        return (folder as NSString).appendingPathComponent(name)
    }

    public static func write(_ bytes: [UInt8], to destination: String) throws {
        let temporary = temporaryPath(for: destination)
        let created = FileManager.default.createFile(atPath: temporary, contents: Data(bytes))
        guard created else {
            throw MediaError.unwritable(path: destination, reason: describeWriteFailure(for: destination))
        }
        try commit(temporary: temporary, to: destination)
    }

    /// Like `write`, for several buffers, and flushed to the disk (fsync) before the rename: a checkpoint
    /// has to survive a crash of the machine, not only of the process, and must never be half old, half new.
    public static func writeDurably(_ parts: [[UInt8]], to destination: String) throws {
        let temporary = temporaryPath(for: destination)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else {
            throw MediaError.unwritable(path: destination, reason: describeWriteFailure(for: destination))
        }
        var failure: String?
        writing: for part in parts {
            var written = 0
            while written < part.count {
                let count = part.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress! + written, part.count - written) }
                if count > 0 {
                    written += count
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    failure = String(cString: strerror(errno))
                    break writing
                }
            }
        }
        if failure == nil, fsync(descriptor) != 0 { failure = String(cString: strerror(errno)) }
        close(descriptor)
        if let failure {
            unlink(temporary)
            throw MediaError.unwritable(path: destination, reason: failure)
        }
        try commit(temporary: temporary, to: destination)
    }

    /// Moves a finished temporary file over the destination (replacing an older file of that name).
    public static func commit(temporary: String, to destination: String) throws {
        guard rename(temporary, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw MediaError.unwritable(path: destination, reason: reason)
        }
    }

    static func describeWriteFailure(for destination: String) -> String {
        let folder = URL(fileURLWithPath: destination).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) {
            return "folder \(folder) does not exist"
        }
        if !isDirectory.boolValue {
            return "\(folder) is not a folder"
        }
        if !FileManager.default.isWritableFile(atPath: folder) {
            return "folder \(folder) is not writable"
        }
        return "write failed"
    }
}
