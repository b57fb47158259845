// VulkanBackend: the engine's GPU device on Vulkan compute, the one compute API every GPU vendor
// ships (Apple's through MoltenVK); Mesa's lavapipe runs the same kernels on the CPU, so the parity
// suite runs on it in CI. Every operation is a GLSL compute kernel (Shaders/, compiled to SPIR-V in
// ShaderBinaries.swift) recorded into a command buffer; nothing waits until the host reads a buffer.
// The Vulkan plumbing (loader opened with dlopen, queues, memory, descriptors, batching) is the C
// layer CVulkanRuntime; this file owns discovery, buffers and the dispatch of kernels.

import BackendInterface
import CVulkanRuntime
import Foundation

/// What Vulkan offers on this machine: the devices, or why there are none.
public struct VulkanDiscovery: Sendable {
    public let backends: [VulkanBackend]
    /// One line saying why no Vulkan device can be used (nil when some can).
    public let unavailableReason: String?

    /// Opens the loader and every physical device once per process.
    public static let shared: VulkanDiscovery = {
        var error = [CChar](repeating: 0, count: 512)
        guard svk_load(&error, error.count) == 0 else {
            return VulkanDiscovery(backends: [], unavailableReason: "Vulkan is unavailable: " + String(cString: error))
        }
        var backends: [VulkanBackend] = []
        var failures: [String] = []
        for index in 0..<Int(svk_device_count()) {
            do {
                backends.append(try VulkanBackend(index: index))
            } catch {
                failures.append("\(error)")
            }
        }
        if backends.isEmpty {
            let reason = failures.first.map { "no Vulkan device can be used: \($0)" } ?? "no Vulkan device is installed"
            return VulkanDiscovery(backends: [], unavailableReason: reason)
        }
        return VulkanDiscovery(backends: backends, unavailableReason: nil)
    }()
}

public struct VulkanError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A device buffer (from the backend's pool) holding `count` elements.
final class VulkanBuffer: BackendBuffer, @unchecked Sendable {
    let elementType: ElementType
    let count: Int
    /// nil when the allocation failed (the failure is sticky on the backend).
    let handle: OpaquePointer?
    let sizeClass: UInt64
    private let pool: DeviceBufferPool

    init(count: Int, elementType: ElementType, pool: DeviceBufferPool) {
        self.count = count
        self.elementType = elementType
        self.pool = pool
        (handle, sizeClass) = pool.checkOut(bytes: UInt64(max(count, 1)) * UInt64(elementType.byteSize))
    }

    deinit {
        if let handle { pool.checkIn(handle, sizeClass: sizeClass) }
    }

    var byteCount: UInt64 { UInt64(count) * UInt64(elementType.byteSize) }
}

public final class VulkanBackend: ComputeBackend, @unchecked Sendable {
    public let info: DeviceInfo
    let context: OpaquePointer
    let raw: svk_device_info
    let pool: DeviceBufferPool
    let kernels: KernelLibrary
    private let failureLock = NSLock()
    private var failure: String?

    init(index: Int) throws {
        var description = svk_device_info()
        guard svk_device_info_get(Int32(index), &description) == 0 else { throw VulkanError("cannot query Vulkan device \(index)") }
        var error = [CChar](repeating: 0, count: 512)
        guard let context = svk_open(Int32(index), &error, error.count) else { throw VulkanError(String(cString: error)) }
        self.context = context
        raw = description
        let kind: DeviceInfo.Kind = switch Int(description.kind) {
        case Int(SVK_KIND_DISCRETE.rawValue): .discreteGPU
        case Int(SVK_KIND_INTEGRATED.rawValue): .integratedGPU
        case Int(SVK_KIND_VIRTUAL.rawValue): .virtualGPU
        case Int(SVK_KIND_CPU.rawValue): .softwareRenderer
        default: .other
        }
        let name = withUnsafeBytes(of: description.name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        let driver = withUnsafeBytes(of: description.driver) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        info = DeviceInfo(identifier: "vulkan:\(index)", name: name, kind: kind,
                          driver: driver.trimmingCharacters(in: .whitespaces), memoryBytes: description.memory_bytes,
                          supportsFloat16: description.storage_16bit != 0, supportsBFloat16: false)
        pool = DeviceBufferPool(context: context, retainedBytes: max(description.memory_bytes / 4, 256 << 20),
                                largestBuffer: description.max_storage_buffer_range)
        kernels = KernelLibrary(context: context, capabilities: KernelCapabilities(description))
    }

    deinit {
        pool.drain()
        svk_close(context)
    }

    /// Device memory held by tensors and the pool now, and at most so far (the benchmark's peak).
    public var allocatedBytes: UInt64 { svk_allocated_bytes(context) }
    public var peakAllocatedBytes: UInt64 { svk_peak_allocated_bytes(context) }

    // MARK: Memory and transfers

    public func makeBuffer(count: Int, elementType: ElementType) -> BackendBuffer {
        let buffer = VulkanBuffer(count: count, elementType: elementType, pool: pool)
        if buffer.handle == nil { fail(pool.lastFailure ?? "cannot allocate \(buffer.byteCount) bytes of device memory") }
        return buffer
    }

    public func makeBuffer(count: Int, elementType: ElementType,
                           initialize: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows -> BackendBuffer {
        let buffer = vulkan(makeBuffer(count: count, elementType: elementType))
        let bytes = Int(buffer.byteCount)
        let staging = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
        defer { staging.deallocate() }
        try initialize(UnsafeMutableRawBufferPointer(rebasing: staging[0..<bytes]))
        if let handle = buffer.handle, bytes > 0 { _ = svk_upload(context, handle, 0, staging.baseAddress, UInt64(bytes)) }
        return buffer
    }

    public func read<Result>(_ buffer: BackendBuffer, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        let buffer = vulkan(buffer)
        let bytes = Int(buffer.byteCount)
        let host = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
        defer { host.deallocate() }
        if let handle = buffer.handle, bytes > 0 { _ = svk_download(context, handle, 0, host.baseAddress, UInt64(bytes)) }
        try throwFailure()
        return try body(UnsafeRawBufferPointer(rebasing: host[0..<bytes]))
    }

    public func synchronize() throws {
        _ = svk_synchronize(context)
        try throwFailure()
    }

    public func computes(on elementType: ElementType) -> Bool {
        elementType == .float32 || (elementType == .float16 && kernels.capabilities.storage16Bit)
    }

    /// Float32 weights are multiplied directly with float16 activations (a kernel variant), so a
    /// float32 checkpoint is not converted on every call.
    public func computesWithWeights(of elementType: ElementType) -> Bool { elementType == .float32 }

    // MARK: Failures

    /// Records the first failure; it is reported by the next read or synchronize.
    func fail(_ message: String) {
        failureLock.lock()
        if failure == nil { failure = message }
        failureLock.unlock()
    }

    private func throwFailure() throws {
        failureLock.lock()
        let swiftFailure = failure
        failureLock.unlock()
        if let swiftFailure { throw VulkanError("\(info.identifier): \(swiftFailure)") }
        let message = String(cString: svk_error_message(context))
        if !message.isEmpty { throw VulkanError("\(info.identifier): \(message)") }
    }

    @inline(__always)
    func vulkan(_ buffer: BackendBuffer) -> VulkanBuffer {
        guard let buffer = buffer as? VulkanBuffer else {
            preconditionFailure("VulkanBackend: given a buffer of another device (\(type(of: buffer)))")
        }
        return buffer
    }
}
