// float16 activations on every GPU test device that stores them: each kernel's fp16 variant (and the
// fp16 x fp32-weight GEMM and convolution) against the same operation in float32 on the CPU engine,
// whose results the PyTorch fixtures pin. The tolerance is float16 storage rounding (2^-11 relative per
// stored value) grown through the operation, with uneven shapes so partial tiles and odd element
// counts run.

import BackendInterface
import TensorEngine
import TestSupport
import XCTest

final class HalfActivationTests: XCTestCase {
    private var halfDevices: [Device] {
        get throws {
            let devices = TestDevices.all.filter { $0.info.kind != .cpu && $0.info.supportsFloat16 }
            guard !devices.isEmpty else { throw XCTSkip("no test device stores float16 activations") }
            return try devices.map { try $0.withActivations(.float16) }
        }
    }

    private var generator = SystemRandomNumberGenerator()

    private func random(_ shape: [Int], range: ClosedRange<Float> = -1...1, on device: Device) -> Tensor {
        let values = (0..<shape.reduce(1, *)).map { _ in Float.random(in: range, using: &generator) }
        return Tensor(shape: shape, scalars: values, on: device)
    }

    /// Runs `operation` on the CPU and on each fp16 device with the same inputs (made on the CPU and
    /// moved; stored as float16 first with `halfInputs`, as layout operations keep their operands'
    /// type), and compares.
    private func check(_ name: String, tolerance: Float = 4e-3, halfInputs: Bool = false, inputs: [Tensor],
                       _ operation: ([Tensor]) -> Tensor) throws {
        let expected = operation(inputs)
        for device in try halfDevices {
            let moved = try inputs.map { try $0.to(device).converted(to: halfInputs ? .float16 : .float32) }
            let actual = operation(moved)
            XCTAssertEqual(actual.elementType, .float16, "\(name) stores its result as float16 on \(device)")
            assertClose(try actual.converted(to: .float32).to(.cpu), expected, tolerance: tolerance, "\(name) fp16")
        }
    }

    func testLinearAlgebraInHalf() throws {
        let cpu = Device.cpu
        try check("matmul with fp32 weights", inputs: [random([3, 37, 70], on: cpu), random([70, 65], on: cpu)]) {
            matmul($0[0], $0[1])
        }
        try check("matmul transposed, fp16 weights", halfInputs: true, inputs: [random([33, 20], on: cpu), random([67, 20], on: cpu)]) {
            matmul($0[0], $0[1], transposeB: true)
        }
        try check("conv2d", inputs: [random([2, 5, 9, 11], on: cpu), random([7, 5, 3, 3], on: cpu), random([7], on: cpu)]) {
            conv2d($0[0], weight: $0[1], bias: $0[2], stride: (2, 1), padding: (1, 1))
        }
        try check("attention", inputs: [random([2, 19, 16], on: cpu), random([2, 300, 16], on: cpu), random([2, 300, 24], on: cpu)]) {
            multiHeadAttention(query: $0[0], key: $0[1], value: $0[2], heads: 2)
        }
    }

    func testNormalisationAndResamplingInHalf() throws {
        let cpu = Device.cpu
        try check("group norm", inputs: [random([2, 8, 5, 7], range: -3...3, on: cpu), random([8], on: cpu), random([8], on: cpu)]) {
            groupNorm($0[0], groups: 4, weight: $0[1], bias: $0[2], epsilon: 1e-5)
        }
        try check("layer norm", inputs: [random([5, 300], on: cpu), random([300], on: cpu), random([300], on: cpu)]) {
            layerNorm($0[0], weight: $0[1], bias: $0[2], epsilon: 1e-5)
        }
        try check("softmax", inputs: [random([3, 301], range: -4...4, on: cpu)]) { softmax($0[0]) }
        try check("bicubic", inputs: [random([1, 3, 7, 9], on: cpu)]) { interpolate($0[0], scaleFactor: 4, mode: .bicubic) }
        try check("grid sample", inputs: [random([1, 3, 6, 8], on: cpu), random([1, 5, 4, 2], range: -1.2...1.2, on: cpu)]) {
            gridSample($0[0], grid: $0[1], alignCorners: false)
        }
    }

    func testElementwiseAndLayoutInHalf() throws {
        let cpu = Device.cpu
        try check("gelu", inputs: [random([1001], range: -4...4, on: cpu)]) { gelu($0[0]) }
        try check("broadcast multiply", inputs: [random([2, 3, 5, 7], on: cpu), random([3, 1, 7], on: cpu)]) { $0[0] * $0[1] }
        try check("concat and permute", halfInputs: true, inputs: [random([2, 3, 5], on: cpu), random([2, 4, 5], on: cpu)]) {
            concat([$0[0], $0[1]], axis: 1).permuted([2, 0, 1])
        }
        try check("pad and slice", halfInputs: true, inputs: [random([1, 2, 5, 5], on: cpu)]) {
            $0[0].padded(top: 1, bottom: 2, left: 3, right: 0, mode: .replicate).slice(axis: 3, 1..<6)
        }
    }
}
