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
}
