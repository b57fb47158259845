import Foundation

/// A checkpoint file mapped read-only, once per file. Row-major float32 tensors are used in place on
/// the CPU (the tensors keep this object, and so the mapping, alive): loading them costs no copy and
/// no allocation, and their pages are the page cache's, shared with every other process reading the
/// file. Tensors of other types are converted out of it one at a time and the pages they came from
/// are handed back to the kernel, so a converted model peaks at its weights once.
///
/// A file replaced on disk while mapped keeps its old contents (the inode lives on: downloads rename
/// into place); one truncated or rewritten in place by another process is not defended against.
/// Sendable: the mapping is read-only and fixed for the object's life.
final class MappedFile: @unchecked Sendable {
    let path: String
    let base: UnsafeMutableRawPointer
    let size: Int

    init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw CheckpointError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw CheckpointError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError.unreadable(path: path, reason: "not a regular file")
        }
        size = Int(status.st_size)
        guard size > 0 else { throw CheckpointError.malformed(path: path, reason: "the file is empty") }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapping != MAP_FAILED else {
            throw CheckpointError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        base = mapping
    }

    deinit { munmap(base, size) }

    /// The whole file as bytes, valid while this object lives.
    var bytes: Data { Data(bytesNoCopy: base, count: size, deallocator: .none) }

    /// Drops the pages of `range` from this process's resident set. The mapping is read-only and
    /// file-backed, so a later read of the same bytes simply faults them in again from the file.
    func releasePages(_ range: Range<Int>) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = range.lowerBound / page * page
        let end = min((range.upperBound + page - 1) / page * page, size)
        guard end > start else { return }
        madvise(base + start, end - start, Int32(MADV_DONTNEED))
    }
}
