import BackendInterface
import CVulkanRuntime
import Foundation

/// What the kernels may use on a device. Kernel variants are chosen from it in one place
/// (`KernelLibrary.variant`), so a faster variant for a capability (cooperative-matrix GEMM and
/// convolution where VK_KHR_cooperative_matrix is present) is a new shader plus one rule here.
struct KernelCapabilities: Sendable {
    /// float16 in storage buffers: float16 activations (float32 arithmetic inside every kernel).
    var storage16Bit: Bool
    var sharedMemoryBytes: Int
    var maxWorkgroupCountX: Int

    init(_ device: svk_device_info) {
        storage16Bit = device.storage_16bit != 0
        sharedMemoryBytes = Int(device.max_shared_memory)
        maxWorkgroupCountX = Int(max(device.max_workgroup_count_x, 1))
    }
}

/// A kernel family: the shader's name, how many buffers it binds and its push-constant words.
struct Kernel: Hashable, Sendable {
    let name: String
    let bindings: Int
    let pushWords: Int

    static let unary = Kernel(name: "unary", bindings: 2, pushWords: 2)
    static let scalar = Kernel(name: "scalar", bindings: 2, pushWords: 3)
    static let binary = Kernel(name: "binary", bindings: 3, pushWords: 21)
    static let accumulate = Kernel(name: "accumulate", bindings: 2, pushWords: 2)
    static let blend = Kernel(name: "blend", bindings: 4, pushWords: 1)
    static let copy = Kernel(name: "copy", bindings: 2, pushWords: 22)
    static let convert = Kernel(name: "convert", bindings: 2, pushWords: 3)
    static let pad = Kernel(name: "pad", bindings: 2, pushWords: 8)
    static let gemm = Kernel(name: "gemm", bindings: 4, pushWords: 11)
    static let conv2d = Kernel(name: "conv2d", bindings: 4, pushWords: 13)
    static let attention = Kernel(name: "attention", bindings: 4, pushWords: 7)
    static let softmax = Kernel(name: "softmax", bindings: 2, pushWords: 2)
    static let groupNorm = Kernel(name: "groupnorm", bindings: 4, pushWords: 7)
    static let layerNorm = Kernel(name: "layernorm", bindings: 4, pushWords: 5)
    static let batchNorm = Kernel(name: "batchnorm", bindings: 6, pushWords: 6)
    static let interpolate = Kernel(name: "interpolate", bindings: 2, pushWords: 9)
    static let gridSample = Kernel(name: "gridsample", bindings: 3, pushWords: 9)
    static let avgPool = Kernel(name: "avgpool", bindings: 2, pushWords: 9)
    static let ddim = Kernel(name: "ddim", bindings: 3, pushWords: 8)
    static let coordinateGrid = Kernel(name: "coordgrid", bindings: 1, pushWords: 3)
    static let flowGrid = Kernel(name: "flowgrid", bindings: 2, pushWords: 5)
    static let convexUpsample = Kernel(name: "convexupsample", bindings: 3, pushWords: 4)
    static let correlationLookup = Kernel(name: "corrlookup", bindings: 3, pushWords: 8)
    static let correlationOnDemand = Kernel(name: "corrlookup_ondemand", bindings: 4, pushWords: 8)
}

/// Push constants as 32-bit words.
struct PushConstants {
    private(set) var words: [UInt32] = []

    /// A non-negative size or index (the engine checked the shapes; device buffers are far below 2³²
    /// elements, `maxStorageBufferRange`).
    mutating func add(_ value: Int) {
        precondition(value >= Int(Int32.min) && value <= Int(UInt32.max), "VulkanBackend: \(value) does not fit a kernel parameter")
        words.append(UInt32(truncatingIfNeeded: value))
    }
    mutating func add(_ value: Float) { words.append(value.bitPattern) }
    mutating func add(_ value: Bool) { words.append(value ? 1 : 0) }
    mutating func add<S: Sequence>(_ values: S, paddedTo length: Int) where S.Element == Int {
        var written = 0
        for value in values {
            add(value)
            written += 1
        }
        for _ in written..<length { words.append(0) }
    }
}

/// The device's compute pipelines, made on first use from ShaderBinaries and kept.
final class KernelLibrary: @unchecked Sendable {
    let capabilities: KernelCapabilities
    private let context: OpaquePointer
    private let lock = NSLock()
    private var pipelines: [String: OpaquePointer] = [:]

    init(context: OpaquePointer, capabilities: KernelCapabilities) {
        self.context = context
        self.capabilities = capabilities
    }

    /// The variant of `kernel` for activations of `elementType` (and GEMM/convolution weights of
    /// `weightType`), e.g. "gemm.f16w32".
    func variant(_ kernel: Kernel, elementType: ElementType, weightType: ElementType? = nil) -> String {
        let activation = elementType == .float16 ? "f16" : "f32"
        if elementType == .float16, weightType == .float32 { return "\(kernel.name).\(activation)w32" }
        return "\(kernel.name).\(activation)"
    }

    func pipeline(_ variant: String, _ kernel: Kernel) throws -> OpaquePointer {
        lock.lock()
        defer { lock.unlock() }
        if let existing = pipelines[variant] { return existing }
        guard let encoded = ShaderBinaries.spirv[variant], let spirv = Data(base64Encoded: encoded) else {
            throw VulkanError("no kernel \(variant)")
        }
        var error = [CChar](repeating: 0, count: 512)
        let made = spirv.withUnsafeBytes { bytes in
            svk_pipeline_create(context, bytes.baseAddress, bytes.count, UInt32(kernel.bindings), UInt32(kernel.pushWords * 4),
                                &error, error.count)
        }
        guard let made else { throw VulkanError("kernel \(variant): \(String(cString: error))") }
        pipelines[variant] = made
        return made
    }
}

extension VulkanBackend {
    /// Records `kernel` over `groups` workgroups with `buffers` bound in order.
    func dispatch(_ kernel: Kernel, variant: String, _ buffers: [BackendBuffer], _ push: PushConstants,
                  groups: (x: Int, y: Int, z: Int)) {
        precondition(push.words.count == kernel.pushWords, "VulkanBackend: \(variant) takes \(kernel.pushWords) parameters")
        guard groups.x > 0, groups.y > 0, groups.z > 0 else { return }
        let handles = buffers.map { vulkan($0).handle }
        guard handles.allSatisfy({ $0 != nil }) else { return } // an allocation failed: already reported
        do {
            let pipeline = try kernels.pipeline(variant, kernel)
            var list: [OpaquePointer?] = handles
            push.words.withUnsafeBytes { words in
                _ = list.withUnsafeMutableBufferPointer { bound in
                    svk_dispatch(context, pipeline, bound.baseAddress, UInt32(bound.count), words.baseAddress,
                                 UInt32(words.count), UInt32(groups.x), UInt32(groups.y), UInt32(groups.z))
                }
            }
        } catch {
            fail("\(error)")
        }
    }

    /// One invocation per element of `count` in workgroups of 256 over a 2-D grid.
    func dispatchElements(_ kernel: Kernel, elementType: ElementType, _ buffers: [BackendBuffer], _ push: PushConstants,
                          count: Int) {
        dispatch(kernel, variant: kernels.variant(kernel, elementType: elementType), buffers, push,
                 groups: workgroupGrid(items: (count + 255) / 256))
    }

    /// `items` workgroups as a 2-D grid within the device's per-axis limit.
    func workgroupGrid(items: Int, z: Int = 1) -> (x: Int, y: Int, z: Int) {
        guard items > 0 else { return (0, 0, 0) }
        let x = min(items, min(kernels.capabilities.maxWorkgroupCountX, 65535))
        return (x, (items + x - 1) / x, z)
    }
}
