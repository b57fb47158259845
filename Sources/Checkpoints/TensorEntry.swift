import Foundation
import BackendInterface
import TensorEngine

/// The element types a checkpoint may store. Every one is converted to float32 on load (the engine's
/// only compute type); integer and bool tensors appear in real state dicts (BatchNorm's
/// `num_batches_tracked`, position ids) and must load rather than fail.
public enum CheckpointDType: String, Sendable, CaseIterable {
    case float64 = "F64", float32 = "F32", float16 = "F16", bfloat16 = "BF16"
    case int64 = "I64", int32 = "I32", int16 = "I16", int8 = "I8", uint8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// The engine's bulk converter handles these; the rest go element by element.
    var engineDType: ElementType? {
        switch self {
        case .float32: return .float32
        case .float16: return .float16
        case .bfloat16: return .bfloat16
        default: return nil
        }
    }

    /// Reads element `index` (little-endian) of a buffer of this dtype as a float.
    @inline(__always)
    func readElement(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        switch self {
        case .float64: return Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))))
        case .float32: return Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
        case .float16: return floatFromHalfBits(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)))
        case .bfloat16: return floatFromBFloat16Bits(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)))
        case .int64: return Float(Int64(littleEndian: base.loadUnaligned(fromByteOffset: index * 8, as: Int64.self)))
        case .int32: return Float(Int32(littleEndian: base.loadUnaligned(fromByteOffset: index * 4, as: Int32.self)))
        case .int16: return Float(Int16(littleEndian: base.loadUnaligned(fromByteOffset: index * 2, as: Int16.self)))
        case .int8: return Float(base.load(fromByteOffset: index, as: Int8.self))
        case .uint8: return Float(base.load(fromByteOffset: index, as: UInt8.self))
        case .bool: return base.load(fromByteOffset: index, as: UInt8.self) != 0 ? 1 : 0
        }
    }
}

/// Where a tensor's storage bytes live: inside a mapped checkpoint file, inside bytes already in
/// memory, or inside a zip archive entry that is extracted when the tensor is loaded (PyTorch checkpoints).
enum StorageBytes: Sendable {
    case file(MappedFile, byteOffset: Int, byteCount: Int)
    case mapped(Data, byteOffset: Int)
    case archived(ArchivedStorage)
}

/// One tensor inside a checkpoint file: where its bytes are and how to read them. Entries are
/// validated when the file is opened (every element lies inside its storage), so loading reads
/// only bytes that exist.
public struct TensorEntry: Sendable {
    public let shape: [Int]
    public let dtype: CheckpointDType
    /// Element strides of the stored layout: row-major for safetensors, whatever `torch.save` wrote
    /// for pickles (a transposed or sliced tensor keeps its view's strides and storage offset).
    public let strides: [Int]
    let storage: StorageBytes
    /// First element of the tensor inside its storage, in elements.
    let storageOffset: Int

    init(shape: [Int], dtype: CheckpointDType, strides: [Int]? = nil, storage: StorageBytes, storageOffset: Int = 0) {
        self.shape = shape
        self.dtype = dtype
        self.strides = strides ?? TensorEntry.rowMajorStrides(shape)
        self.storage = storage
        self.storageOffset = storageOffset
    }

    public var elementCount: Int { shape.reduce(1, *) }

    static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in shape.indices.reversed() {
            strides[axis] = running
            running *= shape[axis]
        }
        return strides
    }

    /// How many storage elements the view reaches (offset + furthest element + 1), or nil on overflow.
    /// An empty tensor reaches nothing.
    static func storageElementsNeeded(shape: [Int], strides: [Int], offset: Int) -> Int? {
        if shape.contains(0) { return 0 }
        var furthest = offset
        for (size, stride) in zip(shape, strides) {
            let (step, o1) = (size - 1).multipliedReportingOverflow(by: stride)
            let (sum, o2) = furthest.addingReportingOverflow(step)
            if o1 || o2 { return nil }
            furthest = sum
        }
        return furthest.addingReportingOverflow(1).overflow ? nil : furthest + 1
    }

    /// The stored tensor as a contiguous float32 tensor on `device`, reporting an archive read failure.
    /// A row-major float32 tensor of a mapped safetensors file is used in place where the device
    /// computes on host memory (no copy, no allocation: the file's pages are shared with the page cache);
    /// every other one is converted in one pass and the pages it came from are handed back.
    public func load(on device: Device = .cpu) throws -> Tensor {
        if case let .file(file, byteOffset, _) = storage, dtype == .float32, storageOffset == 0,
           strides == TensorEntry.rowMajorStrides(shape) {
            return Tensor(shape: shape, elementType: .float32, on: device, wrapping: UnsafeRawPointer(file.base) + byteOffset,
                          owner: file)
        }
        return try withStorageBase { base in
            Tensor(shape: shape, elementType: .float32, on: device) { convert(from: base, into: $0.bindMemory(to: Float.self).baseAddress!) }
        }
    }

    /// Runs `body` on the storage's first byte; pages of a mapped file are released afterwards. The view
    /// (offset, shape, strides) is checked against the bytes actually there before anything is read.
    private func withStorageBase(_ body: (UnsafeRawPointer) -> Tensor) throws -> Tensor {
        switch storage {
        case let .file(file, byteOffset, byteCount):
            try checkView(fits: byteCount)
            let tensor = body(UnsafeRawPointer(file.base) + byteOffset)
            file.releasePages(byteOffset..<(byteOffset + byteCount))
            return tensor
        case let .mapped(data, byteOffset):
            try checkView(fits: data.count - byteOffset)
            return data.withUnsafeBytes { raw in body(raw.baseAddress.map { $0 + byteOffset } ?? TensorEntry.noBytes) }
        case let .archived(archived):
            let bytes = try archived.read()
            try checkView(fits: bytes.count)
            return bytes.withUnsafeBytes { raw in body(raw.baseAddress ?? TensorEntry.noBytes) }
        }
    }

    /// Stands in for the base of an empty buffer (an empty tensor's storage file): the view was checked
    /// to need no bytes, so nothing is read through it (which is also why sharing it is safe).
    nonisolated(unsafe) private static let noBytes = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16))

    private func checkView(fits availableBytes: Int) throws {
        guard let elements = TensorEntry.storageElementsNeeded(shape: shape, strides: strides, offset: storageOffset),
              strides.count == shape.count, storageOffset >= 0, strides.allSatisfy({ $0 >= 0 }),
              case let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize), !overflow,
              bytes <= availableBytes else {
            throw CheckpointError.malformed(path: "tensor", reason: "view of size \(shape), stride \(strides), offset \(storageOffset) reaches past its \(availableBytes)-byte storage")
        }
    }

    private func convert(from storageBase: UnsafeRawPointer, into output: UnsafeMutablePointer<Float>) {
        let count = elementCount
        guard count > 0 else { return }
        if strides == TensorEntry.rowMajorStrides(shape) {
            let start = storageBase + storageOffset * dtype.byteSize
            if let engineDType = dtype.engineDType {
                convertToFloat(start, dtype: engineDType, count: count, into: output)
            } else {
                for index in 0..<count { output[index] = dtype.readElement(start, index) }
            }
            return
        }
        // Strided view: walk the output in row-major order with an odometer over the other axes.
        let rank = shape.count
        let innerSize = shape[rank - 1]
        let innerStride = strides[rank - 1]
        var outerIndex = [Int](repeating: 0, count: max(rank - 1, 0))
        var written = 0
        while written < count {
            var element = storageOffset
            for axis in 0..<(rank - 1) { element += outerIndex[axis] * strides[axis] }
            for i in 0..<innerSize { output[written + i] = dtype.readElement(storageBase, element + i * innerStride) }
            written += innerSize
            var axis = rank - 2
            while axis >= 0 {
                outerIndex[axis] += 1
                if outerIndex[axis] < shape[axis] { break }
                outerIndex[axis] = 0
                axis -= 1
            }
        }
    }
}
