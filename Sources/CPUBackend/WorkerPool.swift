import Foundation

/// Work splitting over a fixed number of threads (one pool per CPU backend, sized by `--threads`).
/// A parallel call made from inside another one's body runs serially on the calling thread: the outer
/// region already occupies every core (attention runs whole GEMMs per worker), and nesting would only
/// oversubscribe them.
struct WorkerPool: Sendable {
    let threads: Int

    /// Whether the calling thread is running the body of a parallel region.
    static var isInsideParallelRegion: Bool { pthread_getspecific(regionKey) != nil }

    /// Runs `body(range)` over `0..<count` split into at most `threads` contiguous chunks, each of at
    /// least `minimumChunk` iterations. Blocks until all chunks are done.
    func forEachChunk(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = Self.isInsideParallelRegion ? 1 : max(1, min(threads, count / max(minimumChunk, 1)))
        if chunks == 1 {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks
            let end = count * (chunk + 1) / chunks
            let outer = pthread_getspecific(Self.regionKey)
            pthread_setspecific(Self.regionKey, Self.insideMarker)
            if start < end { body(start..<end) }
            pthread_setspecific(Self.regionKey, outer)
        }
    }

    /// Runs `body(i)` for every `i` in `0..<count`, chunked over the threads.
    func forEach(_ count: Int, minimumChunk: Int = 1, _ body: (Int) -> Void) {
        forEachChunk(count, minimumChunk: minimumChunk) { range in
            for index in range { body(index) }
        }
    }

    /// The same pool's split decision for a single-threaded region (nested calls run serially).
    var effectiveThreads: Int { Self.isInsideParallelRegion ? 1 : threads }

    private static let regionKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    private static let insideMarker = UnsafeRawPointer(bitPattern: 1)
}
