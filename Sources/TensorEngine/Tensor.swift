// TensorEngine: the device boundary. A `Tensor` is an opaque n-dimensional array owned by a `Device`;
// every operation the Stream-DiffVSR networks need is a function here (PyTorch semantics, NCHW,
// row-major), checked once and dispatched to the device's backend (ComputeBackend). Host memory is
// reached only through the named transfers at the edges (Transfers.swift): values in, values out,
// weights uploaded, frames in and out. Nothing here knows about models, files or streams.

import BackendInterface

public typealias ElementType = BackendInterface.ElementType

/// A buffer on a device, shared by the tensors that view it with different shapes.
final class TensorStorage: Sendable {
    let device: Device
    let buffer: BackendBuffer
    /// Borrowed memory no operation may write (a mapped checkpoint used in place): in-place updates
    /// copy it first.
    let isReadOnly: Bool

    init(device: Device, buffer: BackendBuffer, isReadOnly: Bool = false) {
        self.device = device
        self.buffer = buffer
        self.isReadOnly = isReadOnly
    }
}

/// A contiguous, row-major tensor on a device, with value semantics: `reshaped` shares storage, every
/// other operation returns a new tensor, and the in-place updates (`+=`, `add(_:scaledBy:)`) copy the
/// storage first when another tensor still shares it.
public struct Tensor: Sendable, CustomStringConvertible {
    public private(set) var shape: [Int]
    private(set) var storage: TensorStorage

    init(shape: [Int], storage: TensorStorage) {
        self.shape = shape
        self.storage = storage
    }

    /// Uninitialised storage for `shape` (the engine's operations write every element), by default
    /// of the device's activation type.
    init(uninitializedShape shape: [Int], elementType: ElementType? = nil, on device: Device) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        let count = shape.reduce(1, *)
        let buffer = device.backend.makeBuffer(count: count, elementType: elementType ?? device.activationType)
        self.init(shape: shape, storage: TensorStorage(device: device, buffer: buffer))
    }

    public init(zeros shape: [Int], on device: Device = .cpu) {
        self.init(repeating: 0, shape: shape, on: device)
    }

    public init(repeating value: Float, shape: [Int], on device: Device = .cpu) {
        self.init(uninitializedShape: shape, on: device)
        device.backend.fill(buffer, value: value)
    }

    public var device: Device { storage.device }
    public var elementType: ElementType { storage.buffer.elementType }
    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    var buffer: BackendBuffer { storage.buffer }
    var backend: any ComputeBackend { storage.device.backend }

    /// Size of dimension `axis`; negative axes count from the end.
    public func dim(_ axis: Int) -> Int { shape[axis < 0 ? axis + rank : axis] }

    /// Same storage, new shape. One dimension may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.filter { $0 != -1 }.reduce(1, *)
            resolved[inferred] = known == 0 ? 0 : count / known
        }
        precondition(resolved.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(shape: resolved, storage: storage)
    }

    /// Whether both tensors view the same storage (caches keyed by a tensor use it).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }

    /// Makes the storage this tensor's own (and writable) before an in-place update.
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) || storage.isReadOnly {
            let copy = Tensor(uninitializedShape: shape, elementType: elementType, on: device)
            backend.copy(buffer, into: copy.buffer, StridedCopy(shape: [count], sourceOffset: 0, sourceStrides: [1],
                                                                  outputOffset: 0, outputStrides: [1]))
            storage = copy.storage
        }
    }

    public var description: String {
        let preview = (try? scalars.prefix(8).map { String(format: "%.5g", $0) }) ?? ["<unreadable>"]
        return "Tensor\(shape)@\(device.info.identifier)[\(preview.joined(separator: ", "))\(count > 8 ? ", ..." : "")]"
    }
}

extension Tensor {
    /// Checks that every operand lives on this tensor's device (operations never move data implicitly).
    func requireSameDevice(_ others: Tensor?..., operation: StaticString) {
        for other in others {
            guard let other else { continue }
            precondition(other.device == device,
                         "\(operation): operands on \(device.info.identifier) and \(other.device.info.identifier); move one with to(_:)")
        }
    }

    /// This tensor as an operand of an operation: in the device's activation type (every operand
    /// and result of an operation has it), converted when stored otherwise.
    var operand: Tensor { converted(to: device.activationType) }

    /// A weight operand (of `matmul`, `linear`, `conv2d`): kept in a type the backend computes with
    /// directly (bf16 weights on a CPU with AVX512-BF16), else like any operand.
    var weightOperand: Tensor { backend.computesWithWeights(of: elementType) ? self : operand }
}
