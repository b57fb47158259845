import Foundation

/// One repo's folder in the `huggingface_hub` cache, laid out exactly as the Python library writes it:
///
///     models--org--name/
///       blobs/<etag>                        file contents, named by ETag (sha256 for LFS files)
///       refs/<revision>                     the commit hash a branch or tag pointed to
///       snapshots/<commit>/<path>           relative symlink to ../../blobs/<etag> (deeper paths add ../)
///
/// so a snapshot downloaded by either side is found by the other.
public struct HubCacheRepo: Sendable {
    public let repoID: String
    public let folder: URL

    public init(cacheDirectory: URL, repoID: String) {
        self.repoID = repoID
        self.folder = cacheDirectory.appendingPathComponent("models--" + repoID.replacingOccurrences(of: "/", with: "--"), isDirectory: true)
    }

    var blobs: URL { folder.appendingPathComponent("blobs", isDirectory: true) }

    public func snapshotFolder(commit: String) -> URL {
        folder.appendingPathComponent("snapshots", isDirectory: true).appendingPathComponent(commit, isDirectory: true)
    }

    public func blob(etag: String) -> URL { blobs.appendingPathComponent(etag) }

    /// The lock huggingface_hub holds while writing a blob: `<cache>/.locks/models--org--name/<etag>.lock`.
    func lockFile(etag: String) -> URL {
        folder.deletingLastPathComponent().appendingPathComponent(".locks", isDirectory: true)
            .appendingPathComponent(folder.lastPathComponent, isDirectory: true).appendingPathComponent(etag + ".lock")
    }

    /// Where a blob grows while downloading; never mistaken for a blob because of its suffix.
    func incompleteBlob(etag: String) -> URL { blobs.appendingPathComponent(etag + ".incomplete") }

    static func isCommitHash(_ revision: String) -> Bool {
        revision.count == 40 && revision.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// The commit a revision resolved to when last online (`refs/<revision>`), or the revision itself
    /// when it already is a commit hash.
    public func commit(forRevision revision: String) -> String? {
        if HubCacheRepo.isCommitHash(revision) { return revision }
        let ref = folder.appendingPathComponent("refs").appendingPathComponent(revision)
        guard let text = try? String(contentsOf: ref, encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        // The ref's content becomes a folder name: only a real commit hash is used.
        return HubCacheRepo.isCommitHash(commit) ? commit : nil
    }

    func writeRef(revision: String, commit: String) throws {
        guard revision != commit else { return }
        let ref = folder.appendingPathComponent("refs").appendingPathComponent(revision)
        try HubCacheRepo.createDirectory(ref.deletingLastPathComponent())
        if (try? String(contentsOf: ref, encoding: .utf8)) == commit { return }
        do {
            try commit.write(to: ref, atomically: true, encoding: .utf8)
        } catch {
            throw HubCacheRepo.fileSystemError(error, path: ref.path)
        }
    }

    /// The cached file of `path` in snapshot `commit`, if its link (or copied file) resolves to a regular file.
    public func cachedFile(commit: String, path: String) -> URL? {
        let url = snapshotFolder(commit: commit).appendingPathComponent(path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { return nil }
        return url
    }

    /// Every file path in a cached snapshot (relative, `/`-separated), following the blob links.
    public func cachedPaths(commit: String) -> [String] {
        let root = snapshotFolder(commit: commit)
        guard let enumerator = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var paths: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if cachedFile(commit: commit, path: relative) != nil { paths.append(relative) }
        }
        return paths.sorted()
    }

    /// Points `snapshots/<commit>/<path>` at `blobs/<etag>` with a relative link, as huggingface_hub does.
    /// All three parts come from the server: they are validated, the link must land inside the snapshot,
    /// and only a link or a file there is ever replaced (never a folder, never anything outside the cache).
    func link(commit: String, path: String, etag: String) throws {
        try HubPathSafety.validate(commit: commit)
        try HubPathSafety.validate(fileName: path)
        try HubPathSafety.validate(etag: etag)
        let snapshot = snapshotFolder(commit: commit)
        let pointer = snapshot.appendingPathComponent(path)
        try HubCacheRepo.createDirectory(pointer.deletingLastPathComponent())
        try HubPathSafety.requireInside(pointer, root: snapshot)
        let depth = path.split(separator: "/").count - 1
        let target = String(repeating: "../", count: depth + 2) + "blobs/" + etag
        let manager = FileManager.default
        if let existing = try? manager.destinationOfSymbolicLink(atPath: pointer.path), existing == target { return }
        var status = stat()
        if lstat(pointer.path, &status) == 0 {
            let type = status.st_mode & S_IFMT
            guard type == S_IFLNK || type == S_IFREG else {
                throw HubError.fileSystem(path: pointer.path, reason: "expected a link to a blob, found a folder or special file; not replacing it")
            }
            guard unlink(pointer.path) == 0 else {
                throw HubError.fileSystem(path: pointer.path, reason: String(cString: strerror(errno)))
            }
        }
        do {
            try manager.createSymbolicLink(atPath: pointer.path, withDestinationPath: target)
        } catch {
            throw HubCacheRepo.fileSystemError(error, path: pointer.path)
        }
    }

    static func createDirectory(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw HubCacheRepo.fileSystemError(error, path: url.path)
        }
    }

    /// ENOSPC becomes the actionable disk-full error; anything else names the path and the reason.
    static func fileSystemError(_ error: Error, path: String) -> HubError {
        if let hubError = error as? HubError { return hubError }
        let nsError = error as NSError
        let posix = (nsError.userInfo[NSUnderlyingErrorKey] as? NSError).flatMap { $0.domain == NSPOSIXErrorDomain ? $0.code : nil }
        if nsError.code == NSFileWriteOutOfSpaceError || posix == Int(ENOSPC) || (nsError.domain == NSPOSIXErrorDomain && nsError.code == Int(ENOSPC)) {
            return .diskFull(path: path)
        }
        return .fileSystem(path: path, reason: nsError.localizedDescription)
    }
}
