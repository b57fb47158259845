import Foundation
import Hummingbird
import Media
import NIOPosix

/// An uploaded video, accepted and probed, waiting for a job to take it.
struct Upload: Sendable {
    let id: String
    /// The upload's own scratch folder; whoever owns the upload removes it.
    let folder: String
    let sourcePath: String
    /// What the browser plays: the source itself when it can, else an H.264 copy.
    let previewPath: String
    /// The user's file name reduced to a safe display name; never used to build a path.
    let displayName: String
    let info: UploadedVideoInfo
    let created: Date
}

/// Streams uploads to disk under a size limit, checks them, and keeps them until a job claims them.
final class UploadStore: @unchecked Sendable {
    private let temporaryFolder: String
    private let maxBytes: Int
    private let inspector: VideoInspector
    private let limits: ServerLimits
    private let lock = NSLock()
    private var uploads: [String: Upload] = [:]
    /// Uploads being received or inspected: they count against `maxPendingUploads` too.
    private var arriving = 0

    init(temporaryFolder: String, maxBytes: Int, inspector: VideoInspector, limits: ServerLimits = ServerLimits()) {
        self.temporaryFolder = temporaryFolder
        self.maxBytes = maxBytes
        self.inspector = inspector
        self.limits = limits
    }

    func receive(body: RequestBody, declaredLength: Int?, fileName: String) async throws -> Upload {
        if let declaredLength, declaredLength > maxBytes { throw WebAppError.uploadTooLarge(limitBytes: maxBytes) }
        removeExpired(olderThan: Date().addingTimeInterval(-limits.uploadLifetime))
        try checkFreeSpace(for: Int64(declaredLength ?? 0))
        try lock.withLock {
            guard uploads.count + arriving < limits.maxPendingUploads else {
                throw WebAppError.busy("\(limits.maxPendingUploads) uploads are already waiting for a job (STREAM_DIFFVSR_MAX_PENDING_UPLOADS)")
            }
            arriving += 1
        }
        defer { lock.withLock { arriving -= 1 } }
        let id = UUID().uuidString.lowercased()
        let folder = (temporaryFolder as NSString).appendingPathComponent("upload-\(id)")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        do {
            let displayName = UploadStore.displayName(fileName)
            let sourcePath = (folder as NSString).appendingPathComponent("source.\(UploadStore.safeExtension(displayName))")
            try await write(body, to: sourcePath)
            let inspector = self.inspector
            let upload = try await NIOThreadPool.singleton.runIfActive {
                let info = try inspector.inspect(path: sourcePath, name: displayName)
                var previewPath = sourcePath
                if !info.browserPlayable {
                    previewPath = (folder as NSString).appendingPathComponent("preview.mp4")
                    try inspector.makePreview(of: sourcePath, to: previewPath)
                }
                return Upload(id: id, folder: folder, sourcePath: sourcePath, previewPath: previewPath,
                              displayName: displayName, info: info, created: Date())
            }
            lock.withLock { uploads[id] = upload }
            return upload
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
    }

    private func write(_ body: RequestBody, to path: String) async throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw MediaError.unwritable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var total = 0
        for try await buffer in body {
            total += buffer.readableBytes
            if total > maxBytes { throw WebAppError.uploadTooLarge(limitBytes: maxBytes) }
            try buffer.withUnsafeReadableBytes { bytes in
                var written = 0
                while written < bytes.count {
                    let count = Foundation.write(descriptor, bytes.baseAddress! + written, bytes.count - written)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { throw MediaError.unwritable(path: path, reason: String(cString: strerror(errno))) }
                    written += count
                }
            }
        }
        guard total > 0 else { throw WebAppError.emptyUpload }
    }

    func upload(_ id: String) throws -> Upload {
        guard let upload = lock.withLock({ uploads[id] }) else { throw WebAppError.unknownUpload(id: id) }
        return upload
    }

    /// Hands the upload (and the duty to remove its folder) to the caller.
    func claim(_ id: String) throws -> Upload {
        guard let upload = lock.withLock({ uploads.removeValue(forKey: id) }) else { throw WebAppError.unknownUpload(id: id) }
        return upload
    }

    /// Puts back an upload a job could not take (the queue was full), so the user can try again.
    func giveBack(_ upload: Upload) {
        lock.withLock { uploads[upload.id] = upload }
    }

    func discard(_ id: String) throws {
        let upload = try claim(id)
        try? FileManager.default.removeItem(atPath: upload.folder)
    }

    /// Refuses (507) while the scratch file system has less than the reserve plus `bytes` free.
    private func checkFreeSpace(for bytes: Int64) throws {
        guard let free = Housekeeping.freeBytes(at: temporaryFolder) else { return }
        let required = limits.minFreeDiskBytes + max(bytes, 0)
        guard free >= required else { throw WebAppError.insufficientStorage(freeBytes: free, requiredBytes: required) }
    }

    /// Removes uploads created before `cutoff` that no job claimed (the timer calls this too).
    func removeExpired(olderThan cutoff: Date) {
        let expired = lock.withLock { () -> [Upload] in
            let old = uploads.values.filter { $0.created < cutoff }
            for upload in old { uploads.removeValue(forKey: upload.id) }
            return old
        }
        for upload in expired { try? FileManager.default.removeItem(atPath: upload.folder) }
    }

    /// The last component of whatever the client sent (either slash), without control characters.
    static func displayName(_ raw: String) -> String {
        let lastComponent = raw.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let cleaned = String(lastComponent.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }.map(Character.init))
            .trimmingCharacters(in: .whitespaces)
        let name = cleaned == "." || cleaned == ".." || cleaned.isEmpty ? "video" : cleaned
        return String(name.prefix(120))
    }

    /// A short alphanumeric extension from the name (ffprobe reads the content, this only helps it guess).
    static func safeExtension(_ name: String) -> String {
        let ext = (name as NSString).pathExtension.lowercased()
        let allowed = !ext.isEmpty && ext.count <= 5 && ext.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII }
        return allowed ? ext : "bin"
    }

    /// A file-system-safe stem for output names: ASCII letters, digits, '-' and '_' only.
    static func safeStem(_ name: String) -> String {
        let stem = (name as NSString).deletingPathExtension
        let mapped = String(stem.unicodeScalars.map { scalar -> Character in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || scalar == "-" || scalar == "_") ? Character(scalar) : "_"
        })
        let trimmed = String(mapped.prefix(60)).trimmingCharacters(in: CharacterSet(charactersIn: "_"))
        return trimmed.isEmpty ? "video" : trimmed
    }
}
