// Checkpoints: reading released weights exactly as published (safetensors, PyTorch zip/pickle) into
// lazily materialised tensors, and strict loading of a model's parameters by their state_dict keys.

import Foundation
import TensorEngine

public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case unsupportedDType(path: String, key: String, dtype: String)
    case missingTensor(path: String, key: String)
    case disallowedGlobal(path: String, name: String)
    case unsupportedFormat(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read checkpoint (\(reason))"
        case let .malformed(path, reason): return "\(path): not a valid checkpoint (\(reason))"
        case let .unsupportedDType(path, key, dtype):
            return "\(path): tensor '\(key)' has unsupported dtype \(dtype) (expected one of \(CheckpointDType.allCases.map(\.rawValue).joined(separator: ", ")))"
        case let .missingTensor(path, key): return "\(path): no tensor named '\(key)'"
        case let .disallowedGlobal(path, name):
            return "\(path): the pickle references '\(name)', which a state_dict never needs; refusing to load it (only tensors, storages and OrderedDict are allowed, nothing is executed)"
        case let .unsupportedFormat(path, reason): return "\(path): unsupported checkpoint format (\(reason))"
        }
    }
}

/// A memory-mapped `.safetensors` file, validated the way the reference library does: the header is
/// a JSON object of `{dtype, shape, data_offsets}` entries whose byte ranges match their shapes, lie
/// inside the data section and do not overlap.
public struct SafeTensorsFile: Sendable {
    public let path: String
    public let entries: [String: TensorEntry]
    public let metadata: [String: String]

    /// The reference library's limit; a larger header is a corrupt length field, not a real file.
    static let maximumHeaderLength = 100_000_000

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        try self.init(data: file.bytes, path: path, mapping: file)
    }

    /// Parses safetensors bytes already in memory; `path` only names the source in errors.
    public init(data: Data, path: String) throws {
        try self.init(data: data, path: path, mapping: nil)
    }

    private init(data: Data, path: String, mapping: MappedFile?) throws {
        self.path = path
        guard data.count >= 8 else { throw CheckpointError.malformed(path: path, reason: "file shorter than its 8-byte header length") }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(min(data.count - 8, SafeTensorsFile.maximumHeaderLength)) else {
            throw CheckpointError.malformed(path: path, reason: "header length \(headerLength) exceeds the file size \(data.count) or the 100 MB limit")
        }
        let dataStart = data.startIndex + 8 + Int(headerLength)
        let headerBytes = data[(data.startIndex + 8)..<dataStart]
        guard headerBytes.first == UInt8(ascii: "{"),
              let header = try? JSONSerialization.jsonObject(with: headerBytes) as? [String: Any] else {
            throw CheckpointError.malformed(path: path, reason: "header is not a JSON object")
        }
        // JSONSerialization keeps the last of two equal keys without a word; the reference library refuses them.
        let keyCount = SafeTensorsFile.topLevelKeyCount(headerBytes)
        guard keyCount == header.count else {
            throw CheckpointError.malformed(path: path, reason: "the header names a tensor twice (\(keyCount) keys, \(header.count) distinct)")
        }
        let dataSize = data.endIndex - dataStart
        var entries: [String: TensorEntry] = [:]
        var metadata: [String: String] = [:]
        var ranges: [(start: Int, end: Int, key: String)] = []
        for (key, value) in header {
            if key == "__metadata__" {
                guard let values = value as? [String: Any] else {
                    throw CheckpointError.malformed(path: path, reason: "__metadata__ is not an object")
                }
                for (name, item) in values {
                    guard let text = item as? String else {
                        throw CheckpointError.malformed(path: path, reason: "__metadata__ value '\(name)' is not a string")
                    }
                    metadata[name] = text
                }
                continue
            }
            guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
                  let shape = SafeTensorsFile.integers(info["shape"]),
                  let offsets = SafeTensorsFile.integers(info["data_offsets"]), offsets.count == 2
            else { throw CheckpointError.malformed(path: path, reason: "entry '\(key)' lacks a dtype, an integer shape or two integer data_offsets") }
            guard let dtype = CheckpointDType(rawValue: dtypeName) else {
                throw CheckpointError.unsupportedDType(path: path, key: key, dtype: dtypeName)
            }
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw CheckpointError.malformed(path: path, reason: "entry '\(key)' has a negative dimension in \(shape)")
            }
            var byteCount = dtype.byteSize
            var overflow = false
            for dimension in shape {
                let (product, o) = byteCount.multipliedReportingOverflow(by: dimension)
                byteCount = product
                overflow = overflow || o
            }
            guard !overflow, offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] <= dataSize,
                  offsets[1] - offsets[0] == byteCount else {
                throw CheckpointError.malformed(path: path, reason: "entry '\(key)': data_offsets \(offsets) do not hold shape \(shape) of \(dtypeName) inside a \(dataSize)-byte data section")
            }
            ranges.append((offsets[0], offsets[1], key))
            let byteOffset = dataStart - data.startIndex + offsets[0]
            entries[key] = TensorEntry(shape: shape, dtype: dtype,
                                       storage: mapping.map { .file($0, byteOffset: byteOffset, byteCount: byteCount) }
                                           ?? .mapped(data, byteOffset: byteOffset))
        }
        // As the reference library validates: the tensors tile the data section exactly, in offset
        // order, with no overlap, no gap and nothing after the last one.
        ranges.sort { ($0.start, $0.end) < ($1.start, $1.end) }
        var covered = 0
        for range in ranges {
            if range.start < covered {
                throw CheckpointError.malformed(path: path, reason: "tensor '\(range.key)' overlaps the tensor before it")
            }
            if range.start > covered {
                throw CheckpointError.malformed(path: path, reason: "\(range.start - covered) unused bytes before tensor '\(range.key)' (tensors must be contiguous)")
            }
            covered = range.end
        }
        guard covered == dataSize else {
            throw CheckpointError.malformed(path: path, reason: "the data section is \(dataSize) bytes, the tensors cover \(covered)")
        }
        self.entries = entries
        self.metadata = metadata
    }

    /// How many keys the outermost JSON object has, counting repeats: the string tokens at depth 1 that
    /// a ':' follows. Only called on a header JSONSerialization has already parsed as an object.
    static func topLevelKeyCount(_ json: Data) -> Int {
        var depth = 0
        var count = 0
        var inString = false
        var escaped = false
        var stringEndedAtDepthOne = false
        for byte in json {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                    stringEndedAtDepthOne = depth == 1
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ":"):
                if stringEndedAtDepthOne { count += 1 }
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                continue
            default:
                break
            }
            stringEndedAtDepthOne = false
        }
        return count
    }

    /// A JSON array of exact integers (JSONSerialization hands numbers over as NSNumber, which would
    /// silently truncate 1.5 or wrap 1e30).
    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var result: [Int] = []
        result.reserveCapacity(array.count)
        for item in array {
            guard let number = item as? NSNumber else { return nil }
            let double = number.doubleValue
            guard double.rounded() == double, abs(double) < 9.0e15 else { return nil }
            result.append(Int(double))
        }
        return result
    }

    public func tensor(_ key: String) throws -> Tensor {
        guard let entry = entries[key] else { throw CheckpointError.missingTensor(path: path, key: key) }
        return try entry.load()
    }
}
