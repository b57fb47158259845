// TensorEngine: the CPU tensor type and every operation the Stream-DiffVSR models need, with
// PyTorch semantics (shapes NCHW, row-major, float32 compute). Hot loops (GEMM, convolution) run on
// per-ISA micro-kernels chosen at run time (see Kernels.swift); everything is multi-threaded through
// `Parallel`. Nothing here knows about models, files or streams.

import Foundation

/// 64-byte aligned float buffer owned by one or more `Tensor` values (reshape shares it).
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        self.count = count
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("TensorStorage: cannot allocate \(bytes) bytes")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit { free(pointer) }
}

/// A contiguous, row-major float32 tensor. `reshaped` and `viewing` are free (shared storage);
/// every other operation returns a new tensor. Writing through `data` is visible to all tensors that
/// share the storage, so only write into tensors you have just created.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    public private(set) var shape: [Int]
    public let storage: TensorStorage

    /// Uninitialised memory of the given shape (callers fill every element).
    public init(uninitializedShape shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.storage = TensorStorage(count: shape.reduce(1, *))
    }

    public init(zeros shape: [Int]) {
        self.init(repeating: 0, shape: shape)
    }

    public init(repeating value: Float, shape: [Int]) {
        self.init(uninitializedShape: shape)
        data.update(repeating: value, count: count)
    }

    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.reduce(1, *) == scalars.count,
                     "shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    public init(shape: [Int], storage: TensorStorage) {
        precondition(shape.reduce(1, *) <= storage.count, "shape \(shape) exceeds storage of \(storage.count)")
        self.shape = shape
        self.storage = storage
    }

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    public var data: UnsafeMutablePointer<Float> { storage.pointer }
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

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

    /// A deep copy with its own storage.
    public func copy() -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        result.data.update(from: data, count: count)
        return result
    }

    public var description: String {
        let preview = UnsafeBufferPointer(start: data, count: min(count, 8)).map { String(format: "%.5g", $0) }
        return "Tensor\(shape)[\(preview.joined(separator: ", "))\(count > 8 ? ", ..." : "")]"
    }
}

extension Array where Element == Int {
    /// NCHW convenience: the last two dimensions.
    var spatial: (height: Int, width: Int) { (self[count - 2], self[count - 1]) }
}
