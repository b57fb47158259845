// The deterministic RAFT weights shared by the RAFT parity tests and the pipeline tests: the 21 MB of
// raft_large parameters are generated from a formula instead of being committed.

import Checkpoints
import Foundation

/// The deterministic RAFT weights of tools/fixtures/gen_raft.py (see its docstring for the formula).
public enum FormulaWeights {
    public struct Parameter {
        public let key: String
        public let shape: [Int]
    }

    /// Parses "key=d0xd1x...;key=..." (a scalar has an empty shape).
    public static func parameterList(_ text: String) throws -> [Parameter] {
        try text.split(separator: ";").map { item in
            let parts = item.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw CheckpointError.malformed(path: "RAFT parameter list", reason: "parameter entry \(item) is not key=shape") }
            return Parameter(key: String(parts[0]), shape: parts[1].split(separator: "x").compactMap { Int($0) })
        }
    }

    public static func values(key: String, shape: [Int]) -> [Float] {
        var seed: UInt32 = 0x811C_9DC5
        for byte in key.utf8 { seed = (seed ^ UInt32(byte)) &* 0x0100_0193 }
        let count = shape.reduce(1, *)
        let fanIn = shape.dropFirst().reduce(1, *)
        return (0..<count).map { index in
            var x = UInt32(truncatingIfNeeded: index) &* 0x9E37_79B1 &+ seed
            x ^= x >> 16
            x = x &* 0x7FEB_352D
            x ^= x >> 15
            x = x &* 0x846C_A68B
            x ^= x >> 16
            let u = Double(x) / 4_294_967_296.0
            let s = 2.0 * u - 1.0
            let value: Double
            if key.hasSuffix("running_var") {
                value = 0.5 + u
            } else if key.hasSuffix("running_mean") {
                value = 0.1 * s
            } else if shape.count >= 2 {
                value = s * (3.0 / Double(fanIn)).squareRoot()
            } else if key.hasSuffix(".1.weight") {
                value = 1.0 + 0.2 * s
            } else {
                value = 0.1 * s
            }
            return Float(value)
        }
    }

    /// A float32 safetensors file holding every parameter.
    public static func writeSafeTensors(_ parameters: [Parameter], to path: String) throws {
        var header: [String: Any] = [:]
        var payload = Data()
        for parameter in parameters {
            let values = Self.values(key: parameter.key, shape: parameter.shape)
            let start = payload.count
            values.withUnsafeBufferPointer { payload.append(Data(buffer: $0)) }
            header[parameter.key] = ["dtype": "F32", "shape": parameter.shape, "data_offsets": [start, payload.count]]
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(payload)
        try file.write(to: URL(fileURLWithPath: path))
    }
}
