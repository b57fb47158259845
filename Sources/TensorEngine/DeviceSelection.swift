import BackendInterface

/// What a user asks for with `--device`: `auto`, `cpu`, `vulkan` (the first usable GPU) or `vulkan:N`.
public enum DeviceChoice: Equatable, Sendable, CustomStringConvertible {
    case automatic
    case cpu
    case vulkan(index: Int?)

    public init?(_ text: String) {
        let lowered = text.lowercased()
        switch lowered {
        case "auto": self = .automatic
        case "cpu": self = .cpu
        case "vulkan", "gpu": self = .vulkan(index: nil)
        default:
            guard lowered.hasPrefix("vulkan:"), let index = Int(lowered.dropFirst("vulkan:".count)), index >= 0 else { return nil }
            self = .vulkan(index: index)
        }
    }

    public var description: String {
        switch self {
        case .automatic: "auto"
        case .cpu: "cpu"
        case .vulkan(let index): index.map { "vulkan:\($0)" } ?? "vulkan"
        }
    }
}

public enum DeviceError: Error, CustomStringConvertible {
    case unavailable(choice: String, reason: String)

    public var description: String {
        switch self {
        case let .unavailable(choice, reason): "device \(choice) is not available: \(reason)"
        }
    }
}

extension Device {
    /// Opens the device a user chose. `auto` takes the first discrete GPU, else the CPU; `note` then
    /// says in one line why no GPU was taken (nil when the choice was explicit or a GPU was found).
    /// `threads` sizes the CPU engine (all cores by default).
    public static func open(_ choice: DeviceChoice, threads: Int? = nil) throws -> (device: Device, note: String?) {
        let cpu = threads.map { Device.cpu(threads: $0) } ?? .cpu
        switch choice {
        case .cpu:
            return (cpu, nil)
        case .automatic:
            let gpus = accelerators(includingSoftware: false)
            if let discrete = gpus.first(where: { $0.info.kind == .discreteGPU }) { return (discrete, nil) }
            let reason = acceleratorsUnavailableReason
                ?? (gpus.isEmpty ? "no GPU found (only software Vulkan drivers)" : "no discrete GPU found")
            return (cpu, "\(reason); running on the CPU")
        case .vulkan(let index):
            let gpus = accelerators(includingSoftware: true)
            guard !gpus.isEmpty else {
                throw DeviceError.unavailable(choice: choice.description, reason: acceleratorsUnavailableReason ?? "no Vulkan device found")
            }
            guard let index else { return (gpus[0], nil) }
            guard let device = gpus.first(where: { $0.info.identifier == "vulkan:\(index)" }) else {
                throw DeviceError.unavailable(choice: choice.description,
                                              reason: "there are \(gpus.count) Vulkan device(s): \(gpus.map(\.info.identifier).joined(separator: ", "))")
            }
            return (device, nil)
        }
    }
}
