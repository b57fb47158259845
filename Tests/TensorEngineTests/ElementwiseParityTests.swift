// Activations (relu, silu, sigmoid, tanh, exp, sqrt, gelu erf/tanh, quick_gelu), broadcasting
// arithmetic under numpy rules, and tensor-scalar arithmetic against torch.

import TensorEngine
import TestSupport
import XCTest

final class ElementwiseParityTests: XCTestCase {
    /// Per element: |actual - expected| <= tolerance x max(floor, |expected|). The vectorised exp is
    /// within ~2 ulp of PyTorch's. PyTorch's own float gelu is off by up to 1e-6 absolute around
    /// x = -3.5 (1 + erf cancels there; ours computes erfc directly), which sets the tolerance.
    let tolerance: Float = 1e-6

    func testActivations() throws {
        let fixture = try engineFixture("elementwise")
        let x = try fixture["activation.input"]
        let activations: [(name: String, apply: (Tensor) -> Tensor)] = [
            ("relu", relu), ("silu", silu), ("sigmoid", sigmoid), ("tanh", tanh),
            ("gelu", { gelu($0) }), ("gelu_tanh", { gelu($0, approximation: .tanh) }), ("quick_gelu", quickGELU),
        ]
        for (name, apply) in activations {
            assertElementwiseClose(apply(x), try fixture["activation." + name], name)
        }
        // exp is checked relative to each value, so the small results of negative inputs count too.
        assertElementwiseClose(exp(try fixture["activation.exp_input"]), try fixture["activation.exp"], "exp", floor: 0)
        assertElementwiseClose(sqrt(try fixture["activation.sqrt_input"]), try fixture["activation.sqrt"], "sqrt")
    }

    func testActivationsPropagateNaN() {
        let x = Tensor(shape: [3], scalars: [.nan, 1, -.nan])
        for (name, result) in [("silu", silu(x)), ("sigmoid", sigmoid(x)), ("gelu", gelu(x)), ("exp", exp(x)),
                               ("gelu_tanh", gelu(x, approximation: .tanh)), ("quick_gelu", quickGELU(x))] {
            XCTAssert(result.data[0].isNaN && result.data[2].isNaN && result.data[1].isFinite, "\(name): \(result)")
        }
    }

    private func assertElementwiseClose(_ actual: Tensor, _ expected: Tensor, _ message: String, floor: Float = 1,
                                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
        guard actual.shape == expected.shape else { return }
        var worst: (index: Int, excess: Float) = (0, 0)
        for i in 0..<expected.count {
            let excess = abs(actual.data[i] - expected.data[i]) / max(floor, abs(expected.data[i]))
            if !(excess <= worst.excess) { worst = (i, excess.isNaN ? .infinity : excess) }
        }
        XCTAssert(worst.excess <= tolerance,
                  "\(message): at \(worst.index) got \(actual.data[worst.index]), expected \(expected.data[worst.index]) (scaled error \(worst.excess))",
                  file: file, line: line)
    }

    func testBroadcastingArithmetic() throws {
        let fixture = try engineFixture("elementwise")
        let names = ["same", "trailing_vector", "both_expand", "rank4_cross", "channel_bias", "column",
                     "scalar_tensor", "row_of_length1"]
        for name in names {
            let prefix = "broadcast.\(name)."
            let (a, b) = (try fixture[prefix + "a"], try fixture[prefix + "b"])
            assertClose(a + b, try fixture[prefix + "add"], tolerance: tolerance, "\(name) add")
            assertClose(a - b, try fixture[prefix + "sub"], tolerance: tolerance, "\(name) sub")
            assertClose(a * b, try fixture[prefix + "mul"], tolerance: tolerance, "\(name) mul")
            assertClose(a / b, try fixture[prefix + "div"], tolerance: tolerance, "\(name) div")
        }
    }

    func testBroadcastShapeRules() {
        XCTAssertEqual(broadcastShape([2, 1, 4], [3, 1]), [2, 3, 4])
        XCTAssertEqual(broadcastShape([], [3, 2]), [3, 2])
        XCTAssertEqual(broadcastShape([5, 1, 1, 3], [1, 4, 2, 1]), [5, 4, 2, 3])
        XCTAssertNil(broadcastShape([2, 3], [3, 2]))
        XCTAssertNil(broadcastShape([4], [2, 3]))
    }

    func testScalarArithmetic() throws {
        let fixture = try engineFixture("elementwise")
        let a = try fixture["scalar.input"]
        let cases: [(name: String, result: Tensor)] = [
            ("add", a + 2.5), ("sub", a - 2.5), ("mul", a * -1.5), ("div", a / 3),
            ("reverse_sub", 2.5 - a), ("reverse_add", 2.5 + a), ("reverse_mul", -1.5 * a), ("negate", -a),
        ]
        for (name, result) in cases {
            assertClose(result, try fixture["scalar." + name], tolerance: tolerance, name)
        }
        let accumulated = a.copy()
        accumulated.add(try fixture["scalar.other"], scale: 0.3)
        assertClose(accumulated, try fixture["scalar.add_scaled"], tolerance: tolerance, "add(_:scale:)")
    }
}
