import BackendInterface
import Foundation
import XCTest
@testable import CPUBackend

/// The activations' e^x against the C library, across the whole float range, on every kernel set this CPU
/// runs: normal results to a few ulp, the subnormal range (x in about [-103.9, -87.3], where PyTorch returns
/// subnormals and an earlier version returned 0) to within a subnormal step or two, overflow to infinity,
/// NaN kept.
final class VectorExpTests: XCTestCase {
    func testMatchesTheCLibraryOnNormalAndSubnormalResults() throws {
        var generator = SeededGenerator(seed: 0xE8)
        var inputs: [Float] = (0..<4000).map { _ in Float.random(in: -110...95, using: &generator) }
        inputs += [-103.5, -100, -95, -90, -87.5, -87.3, 0, 1, 88.5, 88.72, 89, 100, -.infinity, .infinity, .nan]
        for kernels in KernelSet.supportedSets {
            let backend = CPUBackend(threads: 1, kernels: kernels)
            let input = backend.makeBuffer(count: inputs.count, elementType: .float32) { bytes in
                inputs.withUnsafeBytes { bytes.copyMemory(from: $0) }
            }
            let output = backend.makeBuffer(count: inputs.count, elementType: .float32)
            backend.unary(.exp, input, into: output)
            let result = try backend.read(output) { Array($0.bindMemory(to: Float.self)) }
            var subnormalsSeen = 0
            for (x, actual) in zip(inputs, result) {
                let expected = Foundation.exp(x)
                if x.isNaN {
                    XCTAssertTrue(actual.isNaN, "\(kernels): exp(nan)")
                } else if expected.isInfinite || expected == 0 {
                    XCTAssertEqual(actual, expected, "\(kernels): exp(\(x))")
                } else if expected < Float.leastNormalMagnitude {
                    subnormalsSeen += 1
                    XCTAssertEqual(actual, expected, accuracy: 2 * Float.leastNonzeroMagnitude, "\(kernels): exp(\(x)) (subnormal)")
                } else {
                    XCTAssertEqual(actual, expected, accuracy: 4 * expected.ulp, "\(kernels): exp(\(x))")
                }
            }
            XCTAssertGreaterThan(subnormalsSeen, 50, "\(kernels)")
        }
    }
}
