// matmul (batched, shared right operand, transposed operands) and linear against torch.matmul /
// F.linear, on every test device.

import TensorEngine
import TestSupport
import XCTest

final class MatmulParityTests: XCTestCase {
    /// Reductions of up to 130 terms in a different order than PyTorch's BLAS.
    let tolerance: Float = 1e-4

    func testMatmul() throws {
        let fixture = try engineFixture("gemm")
        let cases: [(name: String, transposeA: Bool, transposeB: Bool)] = [
            ("batched", false, false), ("shared_b", false, false), ("transposed", false, true),
            ("shared_transposed", false, true), ("odd_large", false, false), ("single_row", false, false),
            ("single_column", false, true), ("transposed_a", true, false),
        ]
        try forEachDevice { device in
            for (name, transposeA, transposeB) in cases {
                let prefix = "matmul.\(name)."
                let result = matmul(try fixture.tensor(prefix + "a", on: device), try fixture.tensor(prefix + "b", on: device),
                                    transposeA: transposeA, transposeB: transposeB)
                assertClose(result, try fixture[prefix + "output"], tolerance: tolerance, "matmul \(name)")
            }
        }
    }

    func testLinear() throws {
        let fixture = try engineFixture("gemm")
        try forEachDevice { device in
            for name in ["bias_rank3", "no_bias", "wide", "one_output"] {
                let prefix = "linear.\(name)."
                let input = try fixture.tensor(prefix + "input", on: device), weight = try fixture.tensor(prefix + "weight", on: device)
                let bias = try fixture.optional(prefix + "bias", on: device)
                let expected = try fixture[prefix + "output"]
                assertClose(linear(input, weight: weight, bias: bias), expected, tolerance: tolerance, "linear \(name)")
            }
        }
    }

    /// Shapes that cross the cache blocks (depth 256, rows 144, columns 2048), leave ragged edge tiles
    /// and split the work, against float64.
    func testLargeShapesAgainstFloat64Reference() {
        let tall = HostTensor(seeded: [1, 150, 530], seed: 1), narrow = HostTensor(seeded: [530, 97], seed: 2)
        let short = HostTensor(seeded: [1, 13, 270], seed: 3), wide = HostTensor(seeded: [2100, 270], seed: 4)
        let bias = HostTensor(seeded: [2100], seed: 5)
        let expectedTall = referenceMatmul(tall, narrow, transposeB: false).on(.cpu)
        let expectedWide = referenceMatmul(short, wide, transposeB: true).on(.cpu)
        let expectedLinear = referenceMatmul(short, wide, transposeB: true, bias: bias).on(.cpu)
        for device in TestDevices.threadVariants {
            assertClose(matmul(tall.on(device), narrow.on(device)), expectedTall, tolerance: tolerance, "matmul on \(device)")
            assertClose(matmul(short.on(device), wide.on(device), transposeB: true), expectedWide, tolerance: tolerance,
                        "matmul transposed on \(device)")
            assertClose(linear(short.on(device), weight: wide.on(device), bias: bias.on(device)), expectedLinear,
                        tolerance: tolerance, "linear on \(device)")
        }
    }
}
