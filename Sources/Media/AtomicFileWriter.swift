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
