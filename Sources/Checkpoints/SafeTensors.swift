// Checkpoints: reading released weights exactly as published (safetensors, PyTorch zip/pickle) into
// lazily materialised tensors, and strict loading of a model's parameters by their state_dict keys.

import Foundation
import TensorEngine

public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unsupportedDType(path: String, key: String, dtype: String)
    case missingTensor(path: String, key: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read checkpoint (\(reason))"
        case let .malformed(path, reason): return "\(path): not a valid checkpoint (\(reason))"
        case let .unsupportedDType(path, key, dtype): return "\(path): tensor '\(key)' has unsupported dtype \(dtype) (expected F32, F16 or BF16)"
        case let .missingTensor(path, key): return "\(path): no tensor named '\(key)'"
        }
    }
}

/// One tensor inside a checkpoint file: where its bytes are and how to read them.
public struct TensorEntry: Sendable {
    public let shape: [Int]
    public let dtype: StorageDType
    let source: Data
    let byteOffset: Int

    /// Converts the stored bytes to a float32 tensor.
    public func materialize() -> Tensor {
        let tensor = Tensor(uninitializedShape: shape)
        source.withUnsafeBytes { raw in
            convertToFloat(raw.baseAddress! + byteOffset, dtype: dtype, count: tensor.count, into: tensor.data)
        }
        return tensor
    }
}

/// A memory-mapped `.safetensors` file.
public struct SafeTensorsFile: Sendable {
    public let path: String
    public let entries: [String: TensorEntry]
    public let metadata: [String: String]

    public init(path: String) throws {
        self.path = path
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw CheckpointError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        guard data.count >= 8 else { throw CheckpointError.malformed(path: path, reason: "file shorter than its 8-byte header length") }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw CheckpointError.malformed(path: path, reason: "header length \(headerLength) exceeds file size \(data.count)")
        }
        let dataStart = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart)) as? [String: Any] else {
            throw CheckpointError.malformed(path: path, reason: "header is not a JSON object")
        }
        var entries: [String: TensorEntry] = [:]
        var metadata: [String: String] = [:]
        var ranges: [(Int, Int, String)] = []
        for (key, value) in header {
            if key == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
                  let shape = (info["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (info["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }), offsets.count == 2
            else { throw CheckpointError.malformed(path: path, reason: "entry '\(key)' lacks dtype, shape or data_offsets") }
            guard let dtype = StorageDType(rawValue: dtypeName) else {
                throw CheckpointError.unsupportedDType(path: path, key: key, dtype: dtypeName)
            }
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw CheckpointError.malformed(path: path, reason: "entry '\(key)' has a negative dimension")
            }
            let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                let (product, o) = acc.0.multipliedReportingOverflow(by: d)
                return (product, acc.1 || o)
            }
            guard !overflow, offsets[0] >= 0, offsets[1] >= offsets[0], dataStart + offsets[1] <= data.count,
                  offsets[1] - offsets[0] == elements * dtype.byteSize else {
                throw CheckpointError.malformed(path: path, reason: "entry '\(key)': offsets \(offsets) do not match shape \(shape) \(dtypeName) inside a \(data.count)-byte file")
            }
            ranges.append((offsets[0], offsets[1], key))
            entries[key] = TensorEntry(shape: shape, dtype: dtype, source: data, byteOffset: dataStart + offsets[0])
        }
        ranges.sort { $0.0 < $1.0 }
        for (previous, next) in zip(ranges, ranges.dropFirst()) where next.0 < previous.1 {
            throw CheckpointError.malformed(path: path, reason: "tensors '\(previous.2)' and '\(next.2)' overlap")
        }
        self.entries = entries
        self.metadata = metadata
    }

    public func tensor(_ key: String) throws -> Tensor {
        guard let entry = entries[key] else { throw CheckpointError.missingTensor(path: path, key: key) }
        return entry.materialize()
    }
}
