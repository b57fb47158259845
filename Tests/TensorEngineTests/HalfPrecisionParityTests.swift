// float16 and bfloat16 storage: every float16 bit pattern and a spread of bfloat16 patterns (all
// special values included) must widen to exactly the float32 torch produces, bit for bit, both
// through the per-value functions and through the checkpoint loading path; and float32 values must
// round to the same float16 / bfloat16 as torch's `.half()` / `.bfloat16()`, on the host and through
// every test device's conversion.

import BackendInterface
import Checkpoints
import TensorEngine
import TestSupport
import XCTest

final class HalfPrecisionParityTests: XCTestCase {
    func testEveryHalfBitPattern() throws {
        let fixture = try engineFixture("half")
        let expected = try fixture["half.as_float"].scalars
        XCTAssertEqual(expected.count, 65536)
        var mismatches: [String] = []
        for bits in 0...UInt16.max {
            let value = floatFromHalfBits(bits)
            let reference = expected[Int(bits)]
            if value.bitPattern != reference.bitPattern {
                mismatches.append(String(format: "0x%04X -> 0x%08X, torch 0x%08X", bits, value.bitPattern, reference.bitPattern))
            }
        }
        XCTAssert(mismatches.isEmpty, "\(mismatches.count) float16 patterns differ, first: \(mismatches.prefix(4))")
    }

    func testHalfTensorsLoadBitExact() throws {
        let fixture = try engineFixture("half")
        XCTAssertEqual(fixture.file.entries["half.values"]?.dtype, .float16)
        try assertBitwiseEqual(try fixture["half.values"], try fixture["half.as_float"], "float16 tensor")
    }

    func testBFloat16() throws {
        let fixture = try engineFixture("half")
        XCTAssertEqual(fixture.file.entries["bfloat16.values"]?.dtype, .bfloat16)
        let loaded = try fixture["bfloat16.values"], expected = try fixture["bfloat16.as_float"]
        try assertBitwiseEqual(loaded, expected, "bfloat16 tensor")
        let (loadedValues, expectedValues) = (try loaded.scalars, try expected.scalars)
        for i in 0..<expectedValues.count {
            let bits = UInt16(loadedValues[i].bitPattern >> 16)
            XCTAssertEqual(floatFromBFloat16Bits(bits).bitPattern, expectedValues[i].bitPattern, "bfloat16 0x\(String(bits, radix: 16))")
        }
    }

    /// Every device's float32 <-> float16 / bfloat16 conversion rounds exactly like torch.
    func testDeviceConversionsRoundLikeTorch() throws {
        let fixture = try engineFixture("half")
        try forEachDevice { device in
            let input = try fixture.tensor("rounding.input", on: device)
            for (name, elementType) in [("half", ElementType.float16), ("bfloat16", .bfloat16)] {
                let expected = try fixture.file.entries["rounding." + name]!.load()
                let stored = input.converted(to: elementType)
                XCTAssertEqual(stored.elementType, elementType)
                try assertBitwiseEqual(stored.converted(to: .float32), expected, "\(name) conversion on \(device)", nanAgnostic: true)
                try assertBitwiseEqual(stored, expected, "\(name) download on \(device)", nanAgnostic: true)
            }
        }
    }

    private func assertBitwiseEqual(_ actual: Tensor, _ expected: Tensor, _ message: String, nanAgnostic: Bool = false,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
        guard actual.shape == expected.shape else { return }
        let (actualValues, expectedValues) = (try actual.scalars, try expected.scalars)
        let differing = (0..<expectedValues.count).filter {
            if nanAgnostic && expectedValues[$0].isNaN { return !actualValues[$0].isNaN }
            return actualValues[$0].bitPattern != expectedValues[$0].bitPattern
        }
        XCTAssert(differing.isEmpty, "\(message): \(differing.count) values differ, first at \(differing.prefix(4))",
                  file: file, line: line)
    }

    func testRoundingToHalfAndBFloat16() throws {
        let fixture = try engineFixture("half")
        let input = try fixture["rounding.input"].scalars
        let conversions: [(name: String, dtype: ElementType, toBits: (Float) -> UInt16, fromBits: (UInt16) -> Float)] = [
            ("half", .float16, halfBits(from:), floatFromHalfBits),
            ("bfloat16", .bfloat16, bfloat16Bits(from:), floatFromBFloat16Bits),
        ]
        for (name, dtype, toBits, fromBits) in conversions {
            // The fixture stores torch's rounded values; widening them is exact (tested above).
            let expected = try fixture["rounding." + name].scalars
            let bytes = UnsafeMutableRawPointer.allocate(byteCount: input.count * 2, alignment: 2)
            defer { bytes.deallocate() }
            input.withUnsafeBufferPointer { convertFromFloat($0.baseAddress!, count: input.count, to: dtype, into: bytes) }
            var mismatches: [String] = []
            for i in 0..<input.count {
                let bits = toBits(input[i])
                let stored = bytes.load(fromByteOffset: i * 2, as: UInt16.self)
                let (value, reference) = (fromBits(bits), expected[i])
                let agrees = reference.isNaN ? value.isNaN : value.bitPattern == reference.bitPattern
                if !agrees || stored != bits {
                    mismatches.append("\(input[i]) -> \(value) (bulk 0x\(String(stored, radix: 16))), torch \(reference)")
                }
            }
            XCTAssert(mismatches.isEmpty, "\(name): \(mismatches.count) of \(input.count) roundings differ: \(mismatches.prefix(4))")
        }
    }
}
