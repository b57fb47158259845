import Foundation

/// Work splitting over the machine's cores. `Parallel.threadCount` is set once at start-up
/// (the CLI's `--threads`); every operation splits its outer loop into that many chunks.
/// A parallel call made from inside another one's body runs serially on the calling thread: the outer
/// region already occupies every core (attention runs whole GEMMs per worker), and nesting would only
/// oversubscribe them.
public enum Parallel {
    nonisolated(unsafe) public static var threadCount: Int = ProcessInfo.processInfo.activeProcessorCount

    /// Whether the calling thread is running the body of a parallel region.
    public static var isInsideParallelRegion: Bool { pthread_getspecific(regionKey) != nil }

    /// Runs `body(range)` over `0..<count` split into at most `threadCount` contiguous chunks,
    /// each of at least `minimumChunk` iterations. Blocks until all chunks are done.
    public static func forEachChunk(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = isInsideParallelRegion ? 1 : max(1, min(threadCount, count / max(minimumChunk, 1)))
        if chunks == 1 {
            body(0..<count)
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks
            let end = count * (chunk + 1) / chunks
            let outer = pthread_getspecific(regionKey)
            pthread_setspecific(regionKey, insideMarker)
            if start < end { body(start..<end) }
            pthread_setspecific(regionKey, outer)
        }
    }

    /// Runs `body(i)` for every `i` in `0..<count`, chunked over the threads.
    public static func forEach(_ count: Int, minimumChunk: Int = 1, _ body: (Int) -> Void) {
        forEachChunk(count, minimumChunk: minimumChunk) { range in
            for index in range { body(index) }
        }
    }

    private static let regionKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    private static let insideMarker = UnsafeRawPointer(bitPattern: 1)
}
