// Shared by the test targets: loading committed safetensors fixtures and comparing tensors with a
// tolerance scaled to the magnitude of the reference output.

import Checkpoints
import Foundation
import TensorEngine
import XCTest

/// A fixture file of reference inputs/outputs written by tools/fixtures (safetensors).
public struct Fixture {
    public let file: SafeTensorsFile

    /// Loads `Fixtures/<name>.safetensors` from a test bundle.
    public init(_ name: String, in bundle: Bundle, file: StaticString = #filePath, line: UInt = #line) throws {
        guard let url = bundle.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures") else {
            XCTFail("fixture \(name).safetensors is missing; run tools/fixtures (see its README)", file: file, line: line)
            throw CheckpointError.missingTensor(path: name, key: "*")
        }
        self.file = try SafeTensorsFile(path: url.path)
    }

    public subscript(_ key: String) -> Tensor {
        get throws { try file.tensor(key) }
    }

    /// The tensor at `key` on `device`.
    public func tensor(_ key: String, on device: Device) throws -> Tensor {
        guard let entry = file.entries[key] else { throw CheckpointError.missingTensor(path: file.path, key: key) }
        return try entry.load(on: device)
    }

    public var stateDict: StateDict { StateDict(source: file.path, entries: file.entries) }

    /// The entries whose key starts with `prefix`, with the prefix removed (a model's weights in a
    /// fixture that also holds inputs and outputs).
    public func stateDict(prefix: String) -> StateDict {
        var entries: [String: TensorEntry] = [:]
        for (key, entry) in file.entries where key.hasPrefix(prefix) { entries[String(key.dropFirst(prefix.count))] = entry }
        return StateDict(source: file.path + " [" + prefix + "]", entries: entries)
    }
}

/// Largest absolute difference between two tensors of the same shape (on any devices).
public func maxAbsoluteDifference(_ a: Tensor, _ b: Tensor) throws -> Float {
    let (x, y) = (try a.scalars, try b.scalars)
    var worst: Float = 0
    for i in 0..<x.count {
        let d = abs(x[i] - y[i])
        if d.isNaN { return .nan }
        worst = max(worst, d)
    }
    return worst
}

/// Asserts equal shapes and max |actual - expected| <= tolerance * max(1, max |expected|).
public func assertClose(_ actual: Tensor, _ expected: Tensor, tolerance: Float = 1e-4, _ message: String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    do {
        let scale = try expected.scalars.reduce(Float(1)) { max($0, abs($1)) }
        let error = try maxAbsoluteDifference(actual, expected)
        XCTAssert(error <= tolerance * scale, "\(message) on \(actual.device.info.identifier): max abs error \(error) > \(tolerance) x scale \(scale)",
                  file: file, line: line)
    } catch {
        XCTFail("\(message): \(error)", file: file, line: line)
    }
}
