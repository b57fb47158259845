import Foundation

/// An exclusive advisory lock (`flock`) on a file, as huggingface_hub takes on
/// `<cache>/.locks/models--org--name/<etag>.lock`, so two runs (Swift or Python) never write the same
/// `.incomplete` file at once. Polls instead of blocking so a waiting task does not hold a thread.
final class DownloadLock {
    private let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    static func acquire(_ url: URL) async throws -> DownloadLock {
        try HubCacheRepo.createDirectory(url.deletingLastPathComponent())
        let descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw HubError.fileSystem(path: url.path, reason: "cannot create the lock file: " + String(cString: strerror(errno)))
        }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw HubError.fileSystem(path: url.path, reason: "cannot lock: " + reason)
            }
            do {
                try await Task.sleep(nanoseconds: 100_000_000)
            } catch {
                close(descriptor)
                throw error
            }
        }
        return DownloadLock(descriptor: descriptor)
    }

    func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
