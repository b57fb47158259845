// concat, slice, chunk, permute and the mean/var reductions against torch (exact copies must match
// exactly; reductions to float rounding).

import TensorEngine
import TestSupport
import XCTest

final class ShapeParityTests: XCTestCase {
    func testConcat() throws {
        let fixture = try engineFixture("shape")
        let cases: [(name: String, parts: Int, axis: Int)] = [("axis1", 3, 1), ("last_axis", 2, -1), ("axis0", 2, 0)]
        for (name, parts, axis) in cases {
            let tensors = try (0..<parts).map { try fixture["concat.\(name).part\($0)"] }
            assertClose(concat(tensors, axis: axis), try fixture["concat.\(name).output"], tolerance: 0, "concat \(name)")
        }
    }

    func testSliceAndChunk() throws {
        let fixture = try engineFixture("shape")
        let x = try fixture["slice.input"]
        assertClose(x.slice(axis: 2, 1..<4), try fixture["slice.axis2.output"], tolerance: 0, "slice axis 2")
        assertClose(x.slice(axis: -1, 1..<2), try fixture["slice.last_axis.output"], tolerance: 0, "slice last axis")
        let chunks = try fixture["chunk.input"].chunked(3, axis: 1)
        XCTAssertEqual(chunks.count, 3)
        for (index, chunk) in chunks.enumerated() {
            assertClose(chunk, try fixture["chunk.part\(index)"], tolerance: 0, "chunk \(index)")
        }
    }

    func testPermute() throws {
        let fixture = try engineFixture("shape")
        let x = try fixture["permute.input"]
        assertClose(x.permuted([0, 2, 3, 1]), try fixture["permute.nhwc.output"], tolerance: 0, "NCHW -> NHWC")
        assertClose(x.permuted([3, 1, 0, 2]), try fixture["permute.scrambled.output"], tolerance: 0, "scrambled")
        assertClose(try fixture["permute.matrix.input"].permuted([1, 0]), try fixture["permute.matrix.output"],
                    tolerance: 0, "transpose")
    }

    func testReductions() throws {
        let fixture = try engineFixture("shape")
        let x = try fixture["reduce.input"]
        let cases: [(name: String, result: Tensor)] = [
            ("mean_spatial_keep", x.mean(axes: [2, 3], keepDimensions: true)),
            ("mean_channels", x.mean(axes: [1])),
            ("mean_all", x.mean(axes: [0, 1, 2, 3])),
            ("var_spatial", x.variance(axes: [2, 3])),
            ("var_biased_last_keep", x.variance(axes: [-1], unbiased: false, keepDimensions: true)),
            ("var_mixed_axes", x.variance(axes: [0, 2])),
        ]
        for (name, result) in cases {
            assertClose(result, try fixture["reduce." + name], tolerance: 1e-6, name)
        }
    }
}
