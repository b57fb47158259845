import Foundation
import XCTest
@testable import CPUBackend

/// The activations' vector e^x against the C library, across the whole float range: normal results to a
/// few ulp, the subnormal range (x in about [-103.9, -87.3], where PyTorch returns subnormals and an earlier
/// version returned 0) to within a subnormal step or two, overflow to infinity, NaN kept.
final class VectorExpTests: XCTestCase {
    func testMatchesTheCLibraryOnNormalAndSubnormalResults() {
        var generator = SeededGenerator(seed: 0xE8)
        var inputs: [Float] = (0..<4000).map { _ in Float.random(in: -110...95, using: &generator) }
        inputs += [-103.5, -100, -95, -90, -87.5, -87.3, 0, 1, 88.5, 88.72, 89, 100, -.infinity, .infinity]
        while inputs.count % 8 != 0 { inputs.append(0.5) }
        var subnormalsSeen = 0
        for start in stride(from: 0, to: inputs.count, by: 8) {
            let lanes = SIMD8<Float>(inputs[start..<start + 8])
            let result = exp8(lanes)
            for lane in 0..<8 {
                let x = lanes[lane], expected = Foundation.exp(x), actual = result[lane]
                if expected.isInfinite || expected == 0 {
                    XCTAssertEqual(actual, expected, "exp(\(x))")
                } else if expected < Float.leastNormalMagnitude {
                    subnormalsSeen += 1
                    XCTAssertEqual(actual, expected, accuracy: 2 * Float.leastNonzeroMagnitude, "exp(\(x)) (subnormal)")
                } else {
                    XCTAssertEqual(actual, expected, accuracy: 4 * expected.ulp, "exp(\(x))")
                }
            }
        }
        XCTAssertGreaterThan(subnormalsSeen, 50)
        XCTAssertTrue(exp8(SIMD8(repeating: .nan))[0].isNaN)
    }
}
