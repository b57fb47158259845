import BackendInterface
import XCTest
@testable import CPUBackend

/// The vector widening kernels of the checkpoint reader against the exact scalar definitions, over
/// every 16-bit pattern (subnormals, infinities, NaNs with their payloads) on every kernel set, and
/// from an odd address (torch storages may start anywhere).
final class ConversionKernelTests: XCTestCase {
    private let patterns = (0...UInt16.max).map { $0 }

    func testHalfWideningIsExactForEveryPatternOnEveryKernelSet() {
        let expected = patterns.map { floatFromHalfBits($0).bitPattern }
        for kernels in KernelSet.supportedSets {
            var actual = [Float](repeating: 0, count: patterns.count)
            patterns.withUnsafeBufferPointer { source in
                actual.withUnsafeMutableBufferPointer { kernels.table.halfToFloat(source.baseAddress, $0.baseAddress, patterns.count) }
            }
            let mismatches = zip(actual.map(\.bitPattern), expected).filter { $0 != $1 }.count
            XCTAssertEqual(mismatches, 0, "\(kernels): \(mismatches) half patterns widened wrongly")
        }
    }

    func testBFloat16WideningIsExactForEveryPatternOnEveryKernelSet() {
        let expected = patterns.map { floatFromBFloat16Bits($0).bitPattern }
        for kernels in KernelSet.supportedSets {
            var actual = [Float](repeating: 0, count: patterns.count)
            patterns.withUnsafeBufferPointer { source in
                actual.withUnsafeMutableBufferPointer { kernels.table.bfloat16ToFloat(source.baseAddress, $0.baseAddress, patterns.count) }
            }
            XCTAssertEqual(actual.map(\.bitPattern), expected, "\(kernels)")
        }
    }

    func testWideningFromAnOddAddress() {
        let count = 5000
        let values = (0..<count).map { UInt16(truncatingIfNeeded: $0 &* 40503) }
        var bytes = [UInt8](repeating: 0, count: 2 * count + 1)
        for (index, value) in values.enumerated() {
            bytes[1 + 2 * index] = UInt8(value & 0xFF)
            bytes[2 + 2 * index] = UInt8(value >> 8)
        }
        for elementType in [ElementType.float16, .bfloat16] {
            var actual = [Float](repeating: 0, count: count)
            bytes.withUnsafeBytes { raw in
                actual.withUnsafeMutableBufferPointer {
                    CPUBackend.widenToFloat(raw.baseAddress! + 1, from: elementType, count: count, into: $0.baseAddress!)
                }
            }
            let expected = values.map { elementType == .float16 ? floatFromHalfBits($0) : floatFromBFloat16Bits($0) }
            XCTAssertEqual(actual.map(\.bitPattern), expected.map(\.bitPattern), "\(elementType)")
        }
    }
}
