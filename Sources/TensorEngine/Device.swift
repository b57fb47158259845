import BackendInterface
import CPUBackend
import Foundation

/// A compute device: the CPU engine or a GPU. Tensors live on one device; operations run where their
/// operands are. Devices are cheap handles around a backend, shared by every tensor made on them.
public final class Device: Sendable, CustomStringConvertible {
    let backend: any ComputeBackend

    init(backend: any ComputeBackend) {
        self.backend = backend
    }

    /// The CPU with every core.
    public static let cpu = Device(backend: CPUBackend())

    /// The CPU with a given number of worker threads (`--threads`).
    public static func cpu(threads: Int) -> Device { Device(backend: CPUBackend(threads: threads)) }

    public var info: DeviceInfo { backend.info }
    public var description: String { "\(info.identifier) (\(info.name))" }

    /// Every GPU device the engine can open, in the order `auto` considers them; software renderers
    /// (lavapipe) only when asked for (tests run on them, users never want them).
    public static func accelerators(includingSoftware: Bool) -> [Device] { [] }

    /// Waits for the device's pending work and reports a failure in it (a GPU out of memory).
    public func synchronize() throws { try backend.synchronize() }
}

extension Device: Equatable {
    public static func == (lhs: Device, rhs: Device) -> Bool { lhs === rhs }
}
