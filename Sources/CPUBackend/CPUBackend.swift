// CPUBackend: the engine's CPU device. Every operation runs on host memory with the per-ISA GEMM,
// convolution and Winograd micro-kernels (KernelTable.swift) and splits its outer loop over the
// backend's worker threads (WorkerPool.swift). Buffers are 64-byte aligned host allocations, so
// uploads and downloads hand out the buffer's own memory.

import BackendInterface
import Foundation

/// Host memory owned by the CPU backend.
final class CPUBuffer: BackendBuffer, @unchecked Sendable {
    let elementType: ElementType
    let count: Int
    let raw: UnsafeMutableRawPointer
    /// What keeps borrowed memory alive (a mapped checkpoint); nil when this buffer owns `raw`.
    private let owner: (AnyObject & Sendable)?

    init(count: Int, elementType: ElementType) {
        self.count = count
        self.elementType = elementType
        var pointer: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * elementType.byteSize
        guard posix_memalign(&pointer, 64, bytes) == 0, let pointer else {
            fatalError("CPUBackend: cannot allocate \(bytes) bytes")
        }
        raw = pointer
        owner = nil
    }

    /// Borrowed, read-only memory (the kernels only read weights).
    init(wrapping bytes: UnsafeRawPointer, count: Int, elementType: ElementType, owner: AnyObject & Sendable) {
        self.count = count
        self.elementType = elementType
        raw = UnsafeMutableRawPointer(mutating: bytes)
        self.owner = owner
    }

    deinit {
        if owner == nil { free(raw) }
    }

    /// The elements of a float32 buffer.
    var floats: UnsafeMutablePointer<Float> {
        precondition(elementType == .float32, "CPUBackend: a \(elementType) buffer used where float32 is computed")
        return raw.assumingMemoryBound(to: Float.self)
    }
}

public final class CPUBackend: ComputeBackend {
    public let info: DeviceInfo
    let pool: WorkerPool
    let kernels: KernelTable

    /// `threads`: worker threads for every operation (default: all cores). `kernels`: force a kernel
    /// set (default: the fastest this CPU runs, or `STREAM_DIFFVSR_KERNELS`).
    public init(threads: Int? = nil, kernels: KernelSet? = nil) {
        let threadCount = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        pool = WorkerPool(threads: threadCount)
        let set = kernels.flatMap { KernelSet.supportedSets.contains($0) ? $0 : nil } ?? .preferred
        self.kernels = set.table
        info = DeviceInfo(identifier: "cpu", name: CPUBackend.processorName ?? "CPU", kind: .cpu,
                          driver: "\(set.rawValue) kernels, \(threadCount) threads",
                          memoryBytes: ProcessInfo.processInfo.physicalMemory, supportsFloat16: false,
                          supportsBFloat16: false)
    }

    public var threads: Int { pool.threads }
    public var kernelSet: KernelSet { kernels.set }

    static var processorName: String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
    }

    // MARK: Memory

    public func makeBuffer(count: Int, elementType: ElementType) -> BackendBuffer {
        CPUBuffer(count: count, elementType: elementType)
    }

    public func makeBuffer(count: Int, elementType: ElementType,
                           initialize: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows -> BackendBuffer {
        let buffer = CPUBuffer(count: count, elementType: elementType)
        try initialize(UnsafeMutableRawBufferPointer(start: buffer.raw, count: count * elementType.byteSize))
        return buffer
    }

    /// Widens `count` little-endian IEEE half or bfloat16 values at `source` (any alignment) into floats
    /// with this CPU's fastest kernels (the checkpoint reader's bulk path; `.float32` copies).
    public static func widenToFloat(_ source: UnsafeRawPointer, from elementType: ElementType, count: Int,
                                    into target: UnsafeMutablePointer<Float>) {
        guard elementType != .float32 else {
            UnsafeMutableRawPointer(target).copyMemory(from: source, byteCount: count * 4)
            return
        }
        let kernels = KernelSet.preferred.table
        let widen = elementType == .float16 ? kernels.halfToFloat : kernels.bfloat16ToFloat
        if Int(bitPattern: source) % 2 == 0 {
            widen(source.assumingMemoryBound(to: UInt16.self), target, count)
        } else {
            // An odd address (a torch storage may start anywhere): widen through an aligned block.
            withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 4096) { block in
                var start = 0
                while start < count {
                    let length = min(4096, count - start)
                    UnsafeMutableRawPointer(block.baseAddress!).copyMemory(from: source + 2 * start, byteCount: 2 * length)
                    widen(block.baseAddress!, target + start, length)
                    start += length
                }
            }
        }
    }

    /// Checkpoint weights are used straight from the file mapping when they are aligned for their type.
    public func makeBuffer(wrapping bytes: UnsafeRawPointer, count: Int, elementType: ElementType,
                           owner: AnyObject & Sendable) -> BackendBuffer? {
        guard Int(bitPattern: bytes) % elementType.byteSize == 0 else { return nil }
        return CPUBuffer(wrapping: bytes, count: count, elementType: elementType, owner: owner)
    }

    public func read<Result>(_ buffer: BackendBuffer, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        let buffer = cpu(buffer)
        return try body(UnsafeRawBufferPointer(start: buffer.raw, count: buffer.count * buffer.elementType.byteSize))
    }

    public func synchronize() throws {}

    public func computes(on elementType: ElementType) -> Bool { elementType == .float32 }

    public func computesWithWeights(of elementType: ElementType) -> Bool { elementType == .float32 }

    /// The CPU buffer behind a buffer this backend made.
    @inline(__always)
    func cpu(_ buffer: BackendBuffer) -> CPUBuffer {
        guard let buffer = buffer as? CPUBuffer else {
            preconditionFailure("CPUBackend: given a buffer of another device (\(type(of: buffer)))")
        }
        return buffer
    }

    @inline(__always)
    func floats(_ buffer: BackendBuffer) -> UnsafeMutablePointer<Float> { cpu(buffer).floats }
}
