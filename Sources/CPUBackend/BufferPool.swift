import Foundation

/// Scratch memory kept between kernel calls. A freshly allocated multi-MB buffer is mapped anew and
/// page-faulted on first touch, which costs more than a small GEMM's or convolution's arithmetic, so
/// buffers return here and are reused. A checked-out buffer that is too small for the next request is
/// replaced by a larger one, so a pool settles on one buffer per concurrent user, sized for the
/// largest request seen.
final class BufferPool: @unchecked Sendable {
    /// GEMM packing workspaces, all of one size: one is checked out per thread for the duration of a
    /// kernel call (attention loops, every convolution of a forward pass), and all are kept.
    static let gemmWorkspaces = BufferPool(retained: .max)
    /// Winograd convolution scratch: one arena per convolution running at a time (one, plus one per
    /// concurrent stream); two are kept.
    static let winogradScratch = BufferPool(retained: 2)

    /// Floats of every GEMM workspace: enough for the largest micro-kernel this machine can run.
    static let gemmWorkspaceFloats = KernelSet.supportedSets.map(\.table.workspaceCount).max() ?? 0

    /// Buffers kept while none is checked out; more are unmapped on return, smallest first.
    private let retained: Int
    private let lock = NSLock()
    private var free: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []

    init(retained: Int) {
        self.retained = retained
    }

    /// Runs `body` with a buffer of at least `floats` floats (page-aligned, contents undefined).
    func withBuffer<Result>(floats: Int, _ body: (UnsafeMutablePointer<Float>) -> Result) -> Result {
        let buffer = checkOut(floats)
        defer { checkIn(buffer) }
        return body(buffer.pointer)
    }

    /// Runs `body` with one buffer per entry of `counts`, each of at least that many floats and
    /// 64-byte aligned, carved from one pooled buffer (contents undefined).
    func withBuffers<Result>(_ counts: [Int], _ body: ([UnsafeMutablePointer<Float>]) -> Result) -> Result {
        let padded = counts.map { ($0 + 15) / 16 * 16 }
        return withBuffer(floats: padded.reduce(0, +)) { base in
            var offset = 0
            let buffers = padded.map { count in
                defer { offset += count }
                return base + offset
            }
            return body(buffers)
        }
    }

    private func checkOut(_ count: Int) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        lock.lock()
        let reused = free.popLast()
        lock.unlock()
        if let reused, reused.capacity >= count { return reused }
        if let reused { unmap(reused) }
        // Mapped directly rather than from the malloc heap: a long-lived block of tens of MB in the
        // middle of the heap would keep the activations freed around it from being returned.
        let capacity = max(count, 1)
        guard let raw = mmap(nil, capacity * MemoryLayout<Float>.stride, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != MAP_FAILED else {
            fatalError("BufferPool: cannot map \(count) floats")
        }
        return (raw.bindMemory(to: Float.self, capacity: capacity), capacity)
    }

    private func checkIn(_ buffer: (pointer: UnsafeMutablePointer<Float>, capacity: Int)) {
        lock.lock()
        free.append(buffer)
        free.sort { $0.capacity < $1.capacity }
        let released = free.count > retained ? free.removeFirst() : nil
        lock.unlock()
        released.map(unmap)
    }

    private func unmap(_ buffer: (pointer: UnsafeMutablePointer<Float>, capacity: Int)) {
        munmap(buffer.pointer, buffer.capacity * MemoryLayout<Float>.stride)
    }
}
