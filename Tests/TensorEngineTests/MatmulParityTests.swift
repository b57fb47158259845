// matmul (batched, shared right operand, transposed) and linear against torch.matmul / F.linear.

import TensorEngine
import TestSupport
import XCTest

final class MatmulParityTests: XCTestCase {
    /// Reductions of up to 130 terms in a different order than PyTorch's BLAS.
    let tolerance: Float = 1e-4

    func testMatmul() throws {
        let fixture = try engineFixture("gemm")
        let cases: [(name: String, transposeB: Bool)] = [
            ("batched", false), ("shared_b", false), ("transposed", true), ("shared_transposed", true),
            ("odd_large", false), ("single_row", false), ("single_column", true),
        ]
        for (name, transposeB) in cases {
            let prefix = "matmul.\(name)."
            let result = matmul(try fixture[prefix + "a"], try fixture[prefix + "b"], transposeB: transposeB)
            assertClose(result, try fixture[prefix + "output"], tolerance: tolerance, "matmul \(name)")
        }
    }

    func testLinear() throws {
        let fixture = try engineFixture("gemm")
        for name in ["bias_rank3", "no_bias", "wide", "one_output"] {
            let prefix = "linear.\(name)."
            let result = linear(try fixture[prefix + "input"], weight: try fixture[prefix + "weight"],
                                bias: try fixture.optional(prefix + "bias"))
            assertClose(result, try fixture[prefix + "output"], tolerance: tolerance, "linear \(name)")
        }
    }

    /// Shapes that cross the cache blocks (depth 256, rows 144, columns 2048), leave ragged edge tiles
    /// and split over threads (1 and an uneven 5), against float64.
    func testLargeShapesAgainstFloat64Reference() {
        let tall = seededTensor([1, 150, 530], seed: 1), narrow = seededTensor([530, 97], seed: 2)
        let short = seededTensor([1, 13, 270], seed: 3), wide = seededTensor([2100, 270], seed: 4)
        let bias = seededTensor([2100], seed: 5)
        let expectedTall = referenceMatmul(tall, narrow, transposeB: false)
        let expectedWide = referenceMatmul(short, wide, transposeB: true)
        let expectedLinear = expectedWide + bias
        withThreadCounts([1, 5]) { threads in
            assertClose(matmul(tall, narrow), expectedTall, tolerance: tolerance, "matmul, \(threads) threads")
            assertClose(matmul(short, wide, transposeB: true), expectedWide, tolerance: tolerance,
                        "matmul transposed, \(threads) threads")
            assertClose(linear(short, weight: wide, bias: bias), expectedLinear, tolerance: tolerance,
                        "linear, \(threads) threads")
        }
    }
}
