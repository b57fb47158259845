// float16 and bfloat16 storage: every float16 bit pattern and a spread of bfloat16 patterns (all
// special values included) must widen to exactly the float32 torch produces, bit for bit, both
// through the per-value functions and through the checkpoint loading path; and float32 values must
// round to the same float16 / bfloat16 as torch's `.half()` / `.bfloat16()`.

import Checkpoints
import TensorEngine
import TestSupport
import XCTest

final class HalfPrecisionParityTests: XCTestCase {
    func testEveryHalfBitPattern() throws {
        let fixture = try engineFixture("half")
        let expected = try fixture["half.as_float"]
        XCTAssertEqual(expected.count, 65536)
        var mismatches: [String] = []
        for bits in 0...UInt16.max {
            let value = floatFromHalfBits(bits)
            let reference = expected.data[Int(bits)]
            if value.bitPattern != reference.bitPattern {
                mismatches.append(String(format: "0x%04X -> 0x%08X, torch 0x%08X", bits, value.bitPattern, reference.bitPattern))
            }
        }
        XCTAssert(mismatches.isEmpty, "\(mismatches.count) float16 patterns differ, first: \(mismatches.prefix(4))")
    }

    func testHalfTensorsLoadBitExact() throws {
        let fixture = try engineFixture("half")
        XCTAssertEqual(fixture.file.entries["half.values"]?.dtype, .float16)
        assertBitwiseEqual(try fixture["half.values"], try fixture["half.as_float"], "float16 tensor")
    }

    func testBFloat16() throws {
        let fixture = try engineFixture("half")
        XCTAssertEqual(fixture.file.entries["bfloat16.values"]?.dtype, .bfloat16)
        let loaded = try fixture["bfloat16.values"], expected = try fixture["bfloat16.as_float"]
        assertBitwiseEqual(loaded, expected, "bfloat16 tensor")
        for i in 0..<expected.count {
            let bits = UInt16(loaded.data[i].bitPattern >> 16)
            XCTAssertEqual(floatFromBFloat16Bits(bits).bitPattern, expected.data[i].bitPattern, "bfloat16 0x\(String(bits, radix: 16))")
        }
    }

    private func assertBitwiseEqual(_ actual: Tensor, _ expected: Tensor, _ message: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
        guard actual.shape == expected.shape else { return }
        let differing = (0..<expected.count).filter { actual.data[$0].bitPattern != expected.data[$0].bitPattern }
        XCTAssert(differing.isEmpty, "\(message): \(differing.count) values differ, first at \(differing.prefix(4))",
                  file: file, line: line)
    }

    func testRoundingToHalfAndBFloat16() throws {
        let fixture = try engineFixture("half")
        let input = try fixture["rounding.input"]
        let conversions: [(name: String, dtype: StorageDType, toBits: (Float) -> UInt16, fromBits: (UInt16) -> Float)] = [
            ("half", .float16, halfBits(from:), floatFromHalfBits),
            ("bfloat16", .bfloat16, bfloat16Bits(from:), floatFromBFloat16Bits),
        ]
        for (name, dtype, toBits, fromBits) in conversions {
            // The fixture stores torch's rounded values; widening them is exact (tested above).
            let expected = try fixture["rounding." + name]
            let bytes = UnsafeMutableRawPointer.allocate(byteCount: input.count * 2, alignment: 2)
            defer { bytes.deallocate() }
            convertFromFloat(input.data, count: input.count, to: dtype, into: bytes)
            var mismatches: [String] = []
            for i in 0..<input.count {
                let bits = toBits(input.data[i])
                let stored = bytes.load(fromByteOffset: i * 2, as: UInt16.self)
                let (value, reference) = (fromBits(bits), expected.data[i])
                let agrees = reference.isNaN ? value.isNaN : value.bitPattern == reference.bitPattern
                if !agrees || stored != bits {
                    mismatches.append("\(input.data[i]) -> \(value) (bulk 0x\(String(stored, radix: 16))), torch \(reference)")
                }
            }
            XCTAssert(mismatches.isEmpty, "\(name): \(mismatches.count) of \(input.count) roundings differ: \(mismatches.prefix(4))")
        }
    }
}
