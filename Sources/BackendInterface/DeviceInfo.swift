/// What a device is, for `stream-diffvsr devices`, `doctor` and `--device auto`.
public struct DeviceInfo: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case cpu
        case discreteGPU = "discrete GPU"
        case integratedGPU = "integrated GPU"
        case virtualGPU = "virtual GPU"
        /// A GPU API implemented on the CPU (Mesa's lavapipe): correct, never fast.
        case softwareRenderer = "software (CPU) driver"
        case other
    }

    /// How users name it: `cpu`, `vulkan:0`, ...
    public var identifier: String
    public var name: String
    public var kind: Kind
    public var driver: String
    /// Device-local memory (system memory for the CPU), bytes.
    public var memoryBytes: UInt64
    public var supportsFloat16: Bool
    public var supportsBFloat16: Bool

    public init(identifier: String, name: String, kind: Kind, driver: String, memoryBytes: UInt64,
                supportsFloat16: Bool, supportsBFloat16: Bool) {
        self.identifier = identifier
        self.name = name
        self.kind = kind
        self.driver = driver
        self.memoryBytes = memoryBytes
        self.supportsFloat16 = supportsFloat16
        self.supportsBFloat16 = supportsBFloat16
    }
}
