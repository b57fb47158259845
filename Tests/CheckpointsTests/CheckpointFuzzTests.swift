@testable import Checkpoints
import Foundation
import XCTest

/// The process's peak resident size in bytes (getrusage reports kilobytes on Linux, bytes on macOS).
func peakResidentBytes() -> Int {
    var usage = rusage()
    #if os(Linux)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss) * 1024
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)
    #endif
}

/// The memory cap of a fuzz run: the peak may not have grown by more than `limit` while it ran.
func assertPeakMemoryGrew(lessThan limit: Int, since before: Int, file: StaticString = #filePath, line: UInt = #line) {
    let grown = peakResidentBytes() - before
    XCTAssertLessThan(grown, limit, "peak resident memory grew by \(grown >> 20) MB during the run", file: file, line: line)
}

/// Deterministic mutations of real files: each mutant must end in a thrown error or a valid
/// checkpoint whose tensors all load; a crash, a trap or a runaway allocation fails the whole run.
final class CheckpointFuzzTests: XCTestCase {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let interestingBytes: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x22, 0x2C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2D, 0x39]

    /// One to four random edits: overwrite, insert, delete, truncate or duplicate a span.
    static func mutate(_ seed: [UInt8], within range: Range<Int>, using rng: inout SplitMix64) -> [UInt8] {
        var bytes = seed
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let upper = min(range.upperBound, bytes.count)
            guard upper > range.lowerBound else { break }
            let at = Int.random(in: range.lowerBound..<upper, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
            case 1: bytes[at] = interestingBytes.randomElement(using: &rng)!
            case 2: bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
            case 3: bytes.removeSubrange(at..<min(upper, at + Int.random(in: 1...16, using: &rng)))
            case 4: bytes.removeSubrange(at...)
            default:
                let span = Array(bytes[at..<min(upper, at + Int.random(in: 1...32, using: &rng))])
                bytes.insert(contentsOf: span, at: Int.random(in: range.lowerBound..<upper, using: &rng))
            }
        }
        return bytes
    }

    func testMutatedPickleStreamsAlwaysEndInAnError() throws {
        let seed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixturePath("seed_state_dict.pkl"))))
        XCTAssertEqual(try TorchCheckpoint.stateDictTensors(TorchUnpickler.load(Data(seed)), path: "seed").count, 13)
        var rng = SplitMix64(state: 0x5EED)
        var accepted = 0
        let memoryBefore = peakResidentBytes()
        for _ in 0..<10_000 {
            let mutant = Data(CheckpointFuzzTests.mutate(seed, within: 0..<seed.count, using: &rng))
            if let root = try? TorchUnpickler.load(mutant), (try? TorchCheckpoint.stateDictTensors(root, path: "fuzz")) != nil {
                accepted += 1
            }
        }
        // Mutations inside string payloads or integers keep a stream valid; most must be rejected.
        XCTAssertLessThan(accepted, 5000)
        assertPeakMemoryGrew(lessThan: 512 << 20, since: memoryBefore)
    }

    func testMutatedSafetensorsHeadersAlwaysEndInAnErrorOrLoad() throws {
        let seed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixturePath("torch_state_dict_expected.safetensors"))))
        let headerEnd = 8 + Int(seed.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var rng = SplitMix64(state: 0xC0FFEE)
        var accepted = 0
        let memoryBefore = peakResidentBytes()
        for iteration in 0..<10_000 {
            // Mostly the JSON header, sometimes the length prefix.
            let range = iteration % 10 == 0 ? 0..<8 : 8..<headerEnd
            let mutant = Data(CheckpointFuzzTests.mutate(seed, within: range, using: &rng))
            guard let file = try? SafeTensorsFile(data: mutant, path: "fuzz") else { continue }
            accepted += 1
            for entry in file.entries.values { XCTAssertEqual(try entry.load().count, entry.elementCount) }
        }
        XCTAssertLessThan(accepted, 10_000)
        assertPeakMemoryGrew(lessThan: 512 << 20, since: memoryBefore)
    }

    /// Random opcode streams built from the opcodes the unpickler knows, with random arguments: deep
    /// nesting, memo games and lengths past the end included. Each must end in an error or a value.
    func testRandomPickleOpcodeStreamsNeverCrash() {
        let opcodes: [UInt8] = Array("()0125NJKMGXTUBCtlae}dsuchjqrRbQ.".utf8) + [0x80, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x93, 0x94, 0x95]
        var rng = SplitMix64(state: 0xF022)
        let memoryBefore = peakResidentBytes()
        var values = 0
        for _ in 0..<10_000 {
            var bytes: [UInt8] = [0x80, 0x02]
            for _ in 0..<Int.random(in: 1...200, using: &rng) {
                bytes.append(opcodes.randomElement(using: &rng)!)
                // Arguments: mostly small numbers (valid lengths and memo indices), sometimes anything.
                for _ in 0..<Int.random(in: 0...4, using: &rng) {
                    bytes.append(Bool.random(using: &rng) ? UInt8.random(in: 0...3, using: &rng) : UInt8.random(in: 0...255, using: &rng))
                }
            }
            bytes.append(UInt8(ascii: "."))
            if (try? TorchUnpickler.load(Data(bytes))) != nil { values += 1 }
        }
        XCTAssertLessThan(values, 10_000)
        assertPeakMemoryGrew(lessThan: 512 << 20, since: memoryBefore)
    }

    func testHandWrittenHostileSafetensorsHeaders() {
        func file(_ header: String, dataBytes: Int = 16, declaredLength: UInt64? = nil) -> Data {
            var data = Data()
            var length = (declaredLength ?? UInt64(header.utf8.count)).littleEndian
            withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
            data.append(contentsOf: Array(header.utf8))
            data.append(Data(count: dataBytes))
            return data
        }
        let hostile = [
            file(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#),
            file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#),
            file(#"{"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}"#),
            file(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#),
            file(#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#),
            file(#"{"a":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}}"#),
            file(#"{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}"#),
            file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#),
            file(#"{"__metadata__":{"x":1}}"#),
            file(#"[1,2,3]"#),
            file(#"{}"#, declaredLength: UInt64.max),
            file(#"{}"#, declaredLength: 1 << 40),
        ]
        for (index, data) in hostile.enumerated() {
            XCTAssertThrowsError(try SafeTensorsFile(data: data, path: "case\(index)"), "case \(index)") { error in
                XCTAssertTrue("\(error)".hasPrefix("case\(index):"), "\(error)")
            }
        }
    }
}
