import Checkpoints
import Foundation
import TensorEngine
import XCTest

/// fp32 tensors of a mapped safetensors file are used in place, the rest converted: both must read
/// the file's values, whatever the alignment the header length leaves the data at, and stay valid
/// after the file's StateDict is gone (the tensors keep the mapping alive); in-place updates never write
/// the mapping.
final class MappedLoadingTests: XCTestCase {
    /// A safetensors file with a float32 [3, 5] tensor, a float16 [4] tensor (1, -2, the smallest
    /// subnormal, the largest finite) and a bfloat16 [2] tensor (1, -123.5),
    /// whose header is padded so the data section starts `misalignment` bytes past a multiple of 8.
    private func writeFile(misalignment: Int) throws -> (path: String, floats: [Float]) {
        var generator = SystemRandomNumberGenerator()
        let floats = (0..<15).map { _ in Float.random(in: -4...4, using: &generator) }
        let halves: [UInt16] = [0x3C00, 0xC000, 0x0001, 0x7BFF]
        let bfloats: [UInt16] = [0x3F80, 0xC2F7]
        let header = #"{"w":{"dtype":"F32","shape":[3,5],"data_offsets":[0,60]},"h":{"dtype":"F16","shape":[4],"data_offsets":[60,68]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[68,72]}}"#
        var headerBytes = Array(header.utf8)
        while (8 + headerBytes.count) % 8 != misalignment { headerBytes.append(UInt8(ascii: " ")) }
        var file = withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { Array($0) } + headerBytes
        for value in floats { file += withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
        for value in halves + bfloats { file += withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        let path = NSTemporaryDirectory() + "mapped-\(misalignment)-\(UUID().uuidString).safetensors"
        try Data(file).write(to: URL(fileURLWithPath: path))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return (path, floats)
    }

    func testTensorsReadTheFileAtEveryAlignmentAndOutliveTheirStateDict() throws {
        for misalignment in [0, 1, 2, 4, 6] {
            let file = try writeFile(misalignment: misalignment)
            var stateDict: StateDict? = try StateDict(safetensors: file.path)
            let weight = try XCTUnwrap(stateDict?.tensor("w"))
            let half = try XCTUnwrap(stateDict?.tensor("h"))
            let bfloat = try XCTUnwrap(stateDict?.tensor("b"))
            stateDict = nil
            XCTAssertEqual(weight.shape, [3, 5])
            XCTAssertEqual(try weight.scalars, file.floats, "misalignment \(misalignment)")
            XCTAssertEqual(try half.scalars, [1, -2, 0x1p-24, 65504], "misalignment \(misalignment)")
            XCTAssertEqual(try bfloat.scalars, [1, -123.5], "misalignment \(misalignment)")
            // An operation on the in-place weight reads the file's values and writes a tensor of its own.
            let doubled = weight * 2
            XCTAssertEqual(try doubled.scalars, file.floats.map { $0 * 2 })
            // In-place updates of a tensor over read-only mapped memory copy it first, even when nothing
            // else shares it.
            var updated = try XCTUnwrap(StateDict(safetensors: file.path).tensor("w"))
            updated += doubled
            updated.add(doubled, scaledBy: 0.5)
            updated.replaceWindow(row: 0, column: 0, with: Tensor(shape: [1, 1], scalars: [7]))
            let expected = file.floats.map { value -> Float in
                let twice = value * 2, sum = value + twice
                return sum + 0.5 * twice
            }
            XCTAssertEqual(try updated.scalars, [7] + expected.dropFirst())
            XCTAssertEqual(try weight.scalars, file.floats)
        }
    }
}
