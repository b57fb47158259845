import Foundation

/// Reusable GEMM packing workspaces (a few MB each): one is checked out per thread for the duration of
/// a kernel call and returned afterwards, so repeated GEMMs (attention loops, every conv of a forward
/// pass) neither allocate nor page-fault fresh memory.
final class WorkspacePool: @unchecked Sendable {
    static let shared = WorkspacePool(floats: KernelSet.supportedSets.map(\.workspaceCount).max() ?? 0)

    private let floats: Int
    private let lock = NSLock()
    private var free: [UnsafeMutablePointer<Float>] = []

    init(floats: Int) {
        self.floats = floats
    }

    func withWorkspace<Result>(_ body: (UnsafeMutablePointer<Float>) -> Result) -> Result {
        lock.lock()
        let workspace = free.popLast() ?? Self.allocate(floats)
        lock.unlock()
        defer {
            lock.lock()
            free.append(workspace)
            lock.unlock()
        }
        return body(workspace)
    }

    private static func allocate(_ floats: Int) -> UnsafeMutablePointer<Float> {
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, floats * MemoryLayout<Float>.stride) == 0, let raw else {
            fatalError("WorkspacePool: cannot allocate \(floats) floats")
        }
        return raw.bindMemory(to: Float.self, capacity: floats)
    }
}
