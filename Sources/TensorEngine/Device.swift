import BackendInterface
import CPUBackend
import Foundation
import VulkanBackend

/// A compute device: the CPU engine or a GPU. Tensors live on one device; operations run where their
/// operands are. Devices are cheap handles around a backend, shared by every tensor made on them.
public final class Device: Sendable, CustomStringConvertible {
    let backend: any ComputeBackend
    /// The element type of every operation's operands and results on this device: float32, or a
    /// reduced type the backend computes on (`withActivations(_:)`). Weights may differ.
    public let activationType: ElementType

    init(backend: any ComputeBackend, activationType: ElementType = .float32) {
        self.backend = backend
        self.activationType = activationType
    }

    /// The same device storing activations as `elementType` (fp16 on a GPU: half the memory traffic,
    /// with float32 accumulation inside the operations).
    public func withActivations(_ elementType: ElementType) throws -> Device {
        if elementType == activationType { return self }
        guard backend.computes(on: elementType) else {
            throw DeviceError.unavailable(choice: "\(info.identifier) with \(elementType.precisionName)",
                                          reason: "this device computes only on \(ElementType.allCases.filter(backend.computes(on:)).map(\.precisionName).joined(separator: ", ")) activations")
        }
        return Device(backend: backend, activationType: elementType)
    }

    /// The CPU with every core.
    public static let cpu = Device(backend: CPUBackend())

    /// The CPU with a given number of worker threads (`--threads`).
    public static func cpu(threads: Int) -> Device { Device(backend: CPUBackend(threads: threads)) }

    public var info: DeviceInfo { backend.info }
    public var description: String { "\(info.identifier) (\(info.name))" }

    /// Every GPU device the engine can open, in the order `auto` considers them; software renderers
    /// (lavapipe) only when asked for (tests run on them, users never want them).
    public static func accelerators(includingSoftware: Bool) -> [Device] {
        vulkanDevices.filter { includingSoftware || $0.info.kind != .softwareRenderer }
    }

    /// One line saying why there is no Vulkan device at all (no loader, no driver), or nil.
    public static var acceleratorsUnavailableReason: String? { VulkanDiscovery.shared.unavailableReason }

    /// The Vulkan devices, opened once per process (each is a backend shared by all its tensors).
    private static let vulkanDevices: [Device] = VulkanDiscovery.shared.backends.map { Device(backend: $0) }

    /// Device memory held now and at most so far (GPU devices; nil for the CPU).
    public var deviceMemory: (current: UInt64, peak: UInt64)? {
        guard let vulkan = backend as? VulkanBackend else { return nil }
        return (vulkan.allocatedBytes, vulkan.peakAllocatedBytes)
    }

    /// Waits for the device's pending work and reports a failure in it (a GPU out of memory).
    public func synchronize() throws { try backend.synchronize() }
}

extension Device: Equatable {
    /// The same backend (tensors of both handles are operands of one another's operations).
    public static func == (lhs: Device, rhs: Device) -> Bool { lhs.backend === rhs.backend }
}
