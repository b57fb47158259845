import CVulkanRuntime
import Foundation

/// Device buffers kept for reuse. Allocating device memory is slow (a driver call, often a kernel
/// one), and a frame of the pipeline makes the same buffers in the same order every time, so a buffer
/// whose tensor is gone returns here and the next request of its size class takes it: a steady-state
/// frame allocates nothing. Size classes are eighths of a power of two (at most 12.5% slack). Reusing
/// a buffer that pending work still reads is safe: work runs in recording order with a barrier after
/// every operation. Beyond `retainedBytes` of idle buffers, the largest are released.
final class DeviceBufferPool: @unchecked Sendable {
    private let context: OpaquePointer
    private let retainedBytes: UInt64
    private let largestBuffer: UInt64
    private let lock = NSLock()
    private var idle: [UInt64: [OpaquePointer]] = [:]
    private var idleBytes: UInt64 = 0
    private(set) var lastFailure: String?

    init(context: OpaquePointer, retainedBytes: UInt64, largestBuffer: UInt64) {
        self.context = context
        self.retainedBytes = retainedBytes
        self.largestBuffer = largestBuffer
    }

    static func sizeClass(_ bytes: UInt64) -> UInt64 {
        let minimum: UInt64 = 256
        guard bytes > minimum else { return minimum }
        let shift = UInt64(max(0, 64 - bytes.leadingZeroBitCount - 4))
        let step: UInt64 = 1 << shift
        return (bytes + step - 1) / step * step
    }

    func checkOut(bytes: UInt64) -> (OpaquePointer?, UInt64) {
        let size = DeviceBufferPool.sizeClass(bytes)
        guard bytes <= largestBuffer else {
            lock.lock()
            lastFailure = "a tensor of \(bytes) bytes exceeds the device's largest buffer (\(largestBuffer) bytes)"
            lock.unlock()
            return (nil, size)
        }
        lock.lock()
        if let reused = idle[size]?.popLast() {
            idleBytes -= size
            lock.unlock()
            return (reused, size)
        }
        lock.unlock()
        if let fresh = svk_buffer_create(context, size) { return (fresh, size) }
        // Out of memory: release every idle buffer and try once more.
        drain()
        let retried = svk_buffer_create(context, size)
        if retried == nil {
            lock.lock()
            lastFailure = "out of device memory allocating \(size) bytes"
            lock.unlock()
        }
        return (retried, size)
    }

    func checkIn(_ handle: OpaquePointer, sizeClass: UInt64) {
        lock.lock()
        idle[sizeClass, default: []].append(handle)
        idleBytes += sizeClass
        var released: [OpaquePointer] = []
        while idleBytes > retainedBytes, let largest = idle.keys.filter({ !(idle[$0]?.isEmpty ?? true) }).max() {
            released.append(idle[largest]!.removeLast())
            idleBytes -= largest
        }
        lock.unlock()
        for handle in released { svk_buffer_destroy(context, handle) }
    }

    /// Releases every idle buffer.
    func drain() {
        lock.lock()
        let all = idle.values.flatMap { $0 }
        idle = [:]
        idleBytes = 0
        lock.unlock()
        for handle in all { svk_buffer_destroy(context, handle) }
    }
}
