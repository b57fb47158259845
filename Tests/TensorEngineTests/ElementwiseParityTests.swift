// Activations (relu, silu, sigmoid, tanh, exp, sqrt, gelu erf/tanh, quick_gelu), broadcasting
// arithmetic under numpy rules, tensor-scalar arithmetic, in-place updates and the GRU blend against
// torch, on every test device.

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
        let activations: [(name: String, apply: (Tensor) -> Tensor)] = [
            ("relu", relu), ("silu", silu), ("sigmoid", sigmoid), ("tanh", tanh),
            ("gelu", { gelu($0) }), ("gelu_tanh", { gelu($0, approximation: .tanh) }), ("quick_gelu", quickGELU),
        ]
        try forEachDevice { device in
            let x = try fixture.tensor("activation.input", on: device)
            for (name, apply) in activations {
                try assertElementwiseClose(apply(x), try fixture["activation." + name], "\(name) on \(device)")
            }
            // exp is checked relative to each value, so the small results of negative inputs count too.
            try assertElementwiseClose(exp(try fixture.tensor("activation.exp_input", on: device)), try fixture["activation.exp"],
                                       "exp on \(device)", floor: 0)
            try assertElementwiseClose(sqrt(try fixture.tensor("activation.sqrt_input", on: device)), try fixture["activation.sqrt"],
                                       "sqrt on \(device)")
        }
    }

    func testActivationsPropagateNaN() throws {
        try forEachDevice { device in
            let x = Tensor(shape: [3], scalars: [.nan, 1, -.nan], on: device)
            for (name, result) in [("silu", silu(x)), ("sigmoid", sigmoid(x)), ("gelu", gelu(x)), ("exp", exp(x)),
                                   ("gelu_tanh", gelu(x, approximation: .tanh)), ("quick_gelu", quickGELU(x))] {
                let values = try result.scalars
                XCTAssert(values[0].isNaN && values[2].isNaN && values[1].isFinite, "\(name) on \(device): \(values)")
            }
        }
    }

    private func assertElementwiseClose(_ actual: Tensor, _ expected: Tensor, _ message: String, floor: Float = 1,
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
        guard actual.shape == expected.shape else { return }
        let (actualValues, expectedValues) = (try actual.scalars, try expected.scalars)
        var worst: (index: Int, excess: Float) = (0, 0)
        for i in 0..<expectedValues.count {
            let excess = abs(actualValues[i] - expectedValues[i]) / max(floor, abs(expectedValues[i]))
            if !(excess <= worst.excess) { worst = (i, excess.isNaN ? .infinity : excess) }
        }
        XCTAssert(worst.excess <= tolerance,
                  "\(message): at \(worst.index) got \(actualValues[worst.index]), expected \(expectedValues[worst.index]) (scaled error \(worst.excess))",
                  file: file, line: line)
    }

    func testBroadcastingArithmetic() throws {
        let fixture = try engineFixture("elementwise")
        let names = ["same", "trailing_vector", "both_expand", "rank4_cross", "channel_bias", "column",
                     "scalar_tensor", "row_of_length1"]
        try forEachDevice { device in
            for name in names {
                let prefix = "broadcast.\(name)."
                let (a, b) = (try fixture.tensor(prefix + "a", on: device), try fixture.tensor(prefix + "b", on: device))
                assertClose(a + b, try fixture[prefix + "add"], tolerance: tolerance, "\(name) add")
                assertClose(a - b, try fixture[prefix + "sub"], tolerance: tolerance, "\(name) sub")
                assertClose(a * b, try fixture[prefix + "mul"], tolerance: tolerance, "\(name) mul")
                assertClose(a / b, try fixture[prefix + "div"], tolerance: tolerance, "\(name) div")
                if broadcastShape(a.shape, b.shape) == a.shape {
                    var accumulated = a
                    accumulated += b
                    assertClose(accumulated, try fixture[prefix + "add"], tolerance: tolerance, "\(name) +=")
                }
            }
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
        try forEachDevice { device in
            let a = try fixture.tensor("scalar.input", on: device)
            let cases: [(name: String, result: Tensor)] = [
                ("add", a + 2.5), ("sub", a - 2.5), ("mul", a * -1.5), ("div", a / 3),
                ("reverse_sub", 2.5 - a), ("reverse_add", 2.5 + a), ("reverse_mul", -1.5 * a), ("negate", -a),
            ]
            for (name, result) in cases {
                assertClose(result, try fixture["scalar." + name], tolerance: tolerance, name)
            }
            var accumulated = a
            accumulated.add(try fixture.tensor("scalar.other", on: device), scaledBy: 0.3)
            assertClose(accumulated, try fixture["scalar.add_scaled"], tolerance: tolerance, "add(_:scaledBy:)")
            XCTAssertFalse(accumulated.sharesStorage(with: a))
            assertClose(a, try fixture["scalar.input"], tolerance: 0, "the input is untouched by the update")
        }
    }

    func testBlendAndScaledAdd() throws {
        let fixture = try engineFixture("stream")
        try forEachDevice { device in
            let result = blend(try fixture.tensor("blend.a", on: device), try fixture.tensor("blend.b", on: device),
                               weight: try fixture.tensor("blend.weight", on: device))
            assertClose(result, try fixture["blend.output"], tolerance: tolerance, "blend")
            var target = try fixture.tensor("scaled_add.target", on: device)
            target.add(try fixture.tensor("scaled_add.source", on: device), scaledBy: 0.1)
            assertClose(target, try fixture["scaled_add.output"], tolerance: tolerance, "c + 0.1 f")
        }
    }
}
