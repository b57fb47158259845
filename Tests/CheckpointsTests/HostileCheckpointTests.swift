@testable import Checkpoints
import Foundation
import XCTest
import ZIPFoundation

/// Writes the opcodes `torch.save` uses (protocol 2), so a test can state exactly what a hostile
/// checkpoint declares.
struct PickleWriter {
    var bytes: [UInt8] = [0x80, 0x02]

    mutating func op(_ character: Character) { bytes.append(character.asciiValue!) }
    mutating func string(_ text: String) {
        bytes.append(0x58)                                         // BINUNICODE
        withUnsafeBytes(of: UInt32(text.utf8.count).littleEndian) { bytes += $0 }
        bytes += Array(text.utf8)
    }
    mutating func int(_ value: Int) {
        bytes.append(0x4A)                                         // BININT
        withUnsafeBytes(of: Int32(value).littleEndian) { bytes += $0 }
    }
    mutating func global(_ module: String, _ name: String) { bytes += Array("c\(module)\n\(name)\n".utf8) }
    mutating func tuple(_ items: [Int]) {
        op("(")
        for item in items { int(item) }
        op("t")
    }

    /// `_rebuild_tensor_v2(('storage', torch.FloatStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict())`
    mutating func tensor(storage key: String, elements: Int, offset: Int = 0, shape: [Int], strides: [Int]) {
        global("torch._utils", "_rebuild_tensor_v2")
        op("(")
        op("("); string("storage"); global("torch", "FloatStorage"); string(key); string("cpu"); int(elements); op("t")
        op("Q")
        int(offset)
        tuple(shape)
        tuple(strides)
        bytes.append(0x89)                                         // False
        global("collections", "OrderedDict"); op(")"); op("R")
        op("t")
        op("R")
    }

    /// `{name: tensor, ...}` as an OrderedDict filled with SETITEMS.
    static func stateDict(_ tensors: [(name: String, write: (inout PickleWriter) -> Void)]) -> [UInt8] {
        var writer = PickleWriter()
        writer.global("collections", "OrderedDict"); writer.op(")"); writer.op("R")
        writer.op("(")
        for (name, write) in tensors {
            writer.string(name)
            write(&writer)
        }
        writer.op("u")
        writer.op(".")
        return writer.bytes
    }
}

final class HostileCheckpointTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-checkpoints-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    /// A torch.save-layout zip: `archive/data.pkl`, `archive/byteorder` and `archive/data/<key>` per storage.
    func checkpoint(_ name: String, pickle: [UInt8], storages: [String: Data]) throws -> String {
        let url = scratch.appendingPathComponent(name)
        let archive = try Archive(url: url, accessMode: .create)
        func add(_ path: String, _ data: Data) throws {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
        try add("archive/data.pkl", Data(pickle))
        try add("archive/byteorder", Data("little".utf8))
        for (key, data) in storages { try add("archive/data/\(key)", data) }
        return url.path
    }

    func floats(_ count: Int) -> Data {
        var values = (0..<count).map { Float($0) }
        return Data(bytes: &values, count: count * 4)
    }

    func assertMalformed(_ body: @autoclosure () throws -> Any, mentioning text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case CheckpointError.malformed = error else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertTrue("\(error)".contains(text), "\"\(error)\" does not mention \"\(text)\"", file: file, line: line)
        }
    }

    /// Issue 15 item 3: storage '0' declared as 4 floats (its file's size), then as 11,520,000 for a
    /// second tensor; reusing the first storage for the second view read far past the 16 bytes.
    func testAStorageRedeclaredWithAnotherSizeIsRefused() throws {
        let pickle = PickleWriter.stateDict([
            ("small", { $0.tensor(storage: "0", elements: 4, shape: [4], strides: [1]) }),
            ("conv_in.weight", { $0.tensor(storage: "0", elements: 11_520_000, shape: [320, 4, 3, 3, 1000], strides: [36000, 9000, 3000, 1000, 1]) }),
        ])
        let path = try checkpoint("redeclared.pth", pickle: pickle, storages: ["0": floats(4)])
        assertMalformed(try StateDict(contentsOf: path), mentioning: "declares storage '0' as 11520000 x F32, an earlier tensor as 4 x F32")
    }

    func testViewsAreCheckedAgainstTheStoragesBytes() throws {
        let pickle = PickleWriter.stateDict([("a", { $0.tensor(storage: "0", elements: 6, offset: 2, shape: [2, 2], strides: [2, 1]) })])
        let path = try checkpoint("ok.pth", pickle: pickle, storages: ["0": floats(6)])
        XCTAssertEqual(try StateDict(contentsOf: path).tensor("a").scalars, [2, 3, 4, 5])
        // A view past the end is refused by the pickle reader (its reference says 6 elements) ...
        let past = PickleWriter.stateDict([("a", { $0.tensor(storage: "0", elements: 6, offset: 3, shape: [2, 2], strides: [2, 1]) })])
        assertMalformed(try StateDict(contentsOf: try checkpoint("past.pth", pickle: past, storages: ["0": floats(6)])), mentioning: "reaches past")
        // An empty tensor over an empty storage file loads (there is no byte to point at).
        let empty = PickleWriter.stateDict([("e", { $0.tensor(storage: "0", elements: 0, shape: [0, 3], strides: [3, 1]) })])
        XCTAssertEqual(try StateDict(contentsOf: try checkpoint("empty.pth", pickle: empty, storages: ["0": Data()])).tensor("e").shape, [0, 3])
        // ... and, should an entry ever disagree with its bytes, by the loader before reading.
        let entry = TensorEntry(shape: [4], dtype: .float32, storage: .mapped(floats(2), byteOffset: 0))
        XCTAssertThrowsError(try entry.load()) { XCTAssertTrue("\($0)".contains("reaches past its 8-byte storage"), "\($0)") }
    }

    /// Issue 15 item 12: one storage viewed by many tensors is inflated once, not once per tensor.
    func testASharedStorageIsInflatedOnce() throws {
        let count = 64
        let pickle = PickleWriter.stateDict((0..<count).map { index in
            ("t\(index)", { $0.tensor(storage: "0", elements: 4096, offset: index, shape: [8], strides: [1]) })
        })
        let path = try checkpoint("shared.pth", pickle: pickle, storages: ["0": floats(4096)])
        let checkpoint = try TorchCheckpoint(path: path)
        for index in 0..<count {
            XCTAssertEqual(try checkpoint.entries["t\(index)"]!.load().scalars, (0..<8).map { Float(index + $0) })
        }
        guard case let .archived(storage) = checkpoint.entries["t0"]!.storage else { return XCTFail("not archived") }
        XCTAssertEqual(storage.extractions, 1)
        // Loading again after every tensor had its turn inflates again (nothing stays cached for good).
        _ = try checkpoint.entries["t0"]!.load()
        XCTAssertEqual(storage.extractions, 2)
    }

    func testADuplicatedStateDictKeyIsRefused() throws {
        let pickle = PickleWriter.stateDict([
            ("a", { $0.tensor(storage: "0", elements: 2, shape: [2], strides: [1]) }),
            ("a", { $0.tensor(storage: "1", elements: 2, shape: [2], strides: [1]) }),
        ])
        assertMalformed(try StateDict(contentsOf: try checkpoint("dup.pth", pickle: pickle, storages: ["0": floats(2), "1": floats(2)])),
                        mentioning: "'a' appears twice")
    }

    /// Issue 15 item 6: 2 M nested TUPLE1 opcodes; freeing the value recursed once per level.
    func testDeeplyNestedPicklesEndInAnErrorNotAStackOverflow() {
        var bytes: [UInt8] = [0x80, 0x02, UInt8(ascii: "N")]
        bytes += [UInt8](repeating: 0x85, count: 2_000_000)
        bytes.append(UInt8(ascii: "."))
        XCTAssertThrowsError(try TorchUnpickler.load(Data(bytes))) { XCTAssertTrue("\($0)".contains("nested more than 100 deep"), "\($0)") }
        // The same depth built by filling lists that are already inside one another is refused too.
        var chain = PickleWriter()
        let lists = 5000
        for index in 0..<lists {
            chain.op("]")
            chain.bytes += [UInt8(ascii: "r")] + withUnsafeBytes(of: UInt32(index).littleEndian) { Array($0) }   // LONG_BINPUT
            chain.op("0")
        }
        for index in stride(from: lists - 1, to: 0, by: -1) {
            chain.bytes += [UInt8(ascii: "j")] + withUnsafeBytes(of: UInt32(index).littleEndian) { Array($0) }   // LONG_BINGET
            chain.bytes += [UInt8(ascii: "j")] + withUnsafeBytes(of: UInt32(index - 1).littleEndian) { Array($0) }
            chain.op("a")
            chain.op("0")
        }
        chain.bytes += [UInt8(ascii: "j")] + withUnsafeBytes(of: UInt32(lists - 1).littleEndian) { Array($0) }
        chain.op(".")
        XCTAssertThrowsError(try TorchUnpickler.load(Data(chain.bytes))) { XCTAssertTrue("\($0)".contains("already inside another value"), "\($0)") }
    }

    /// Issue 15 item 11: a list of pairs memoised once, then fed to OrderedDict again and again: each
    /// REDUCE (6 bytes) copied the whole list. It must stop at a budget proportional to the input.
    func testMemoAmplificationIsCutOffEarly() {
        var writer = PickleWriter()
        writer.global("collections", "OrderedDict")
        writer.bytes += [UInt8(ascii: "q"), 0]                        // memo 0: the global
        writer.op("(")
        writer.op("]")
        writer.op("(")
        for index in 0..<2000 {
            writer.string("k\(index)"); writer.op("N"); writer.bytes.append(0x86)   // (key, None)
        }
        writer.op("e")
        writer.op("t")
        writer.bytes += [UInt8(ascii: "q"), 1]                        // memo 1: the argument tuple
        for _ in 0..<20_000 {
            writer.bytes += [UInt8(ascii: "h"), 0, UInt8(ascii: "h"), 1, UInt8(ascii: "R"), 0x94]
        }
        writer.op(".")
        let started = Date()
        XCTAssertThrowsError(try TorchUnpickler.load(Data(writer.bytes))) { XCTAssertTrue("\($0)".contains("amplification"), "\($0)") }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    /// Issue 15 item 7: an index that lists itself (or another index) as a shard.
    func testAShardIndexNamingItselfIsRefused() throws {
        let index = scratch.appendingPathComponent("model.safetensors.index.json")
        try Data(#"{"weight_map": {"a": "model.safetensors.index.json"}}"#.utf8).write(to: index)
        assertMalformed(try StateDict(contentsOf: index.path), mentioning: "cannot name itself")
        let other = scratch.appendingPathComponent("b.index.json")
        try Data(#"{"weight_map": {"a": "model.safetensors.index.json"}}"#.utf8).write(to: other)
        assertMalformed(try StateDict(contentsOf: other.path), mentioning: "is an index")
        try Data(#"{"weight_map": {"a": ""}}"#.utf8).write(to: other)
        assertMalformed(try StateDict(contentsOf: other.path), mentioning: "must be a file next to the index")
    }

    func safetensors(_ header: String, dataBytes: Int) -> Data {
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(Data(count: dataBytes))
        return data
    }

    /// Issue 15 item 12: duplicate keys (JSON keeps the last silently), gaps, trailing bytes.
    func testSafetensorsWithDuplicateKeysOrGapsAreRefused() throws {
        let good = safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, dataBytes: 12)
        XCTAssertEqual(try SafeTensorsFile(data: good, path: "good").entries.count, 2)
        let cases: [(Data, String)] = [
            (safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataBytes: 8), "names a tensor twice"),
            (safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\u0061":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataBytes: 8), "names a tensor twice"),
            (safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, dataBytes: 12), "4 unused bytes before tensor 'b'"),
            (safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataBytes: 8), "unused bytes before tensor 'a'"),
            (safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 8), "the tensors cover 4"),
        ]
        for (data, text) in cases {
            assertMalformed(try SafeTensorsFile(data: data, path: "case"), mentioning: text)
        }
        // Keys inside a tensor's entry, or strings with escaped quotes and colons, are not top-level keys.
        XCTAssertEqual(SafeTensorsFile.topLevelKeyCount(Data(#"{"a\":b":{"x":1,"y":[{"z":2}]}, "c" : "d:e"}"#.utf8)), 2)
    }
}
