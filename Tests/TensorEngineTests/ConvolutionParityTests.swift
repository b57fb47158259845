// conv2d over every kernel shape the models use (1x1, 3x3, 7x7, 1x5, 5x1), strides, paddings,
// optional bias, 1-pixel images and odd channel counts, and a 3x3 convolution large enough for the
// CPU's Winograd path; conv1d. Against F.conv2d / F.conv1d, on every test device.

import TensorEngine
import TestSupport
import XCTest

final class ConvolutionParityTests: XCTestCase {
    /// Reductions of up to 300 terms in a different order than PyTorch's.
    let tolerance: Float = 1e-4

    func testConv2d() throws {
        let fixture = try engineFixture("conv")
        let cases: [(name: String, stride: (Int, Int), padding: (Int, Int))] = [
            ("pointwise", (1, 1), (0, 0)),
            ("pointwise_strided", (2, 2), (0, 0)),
            ("k3", (1, 1), (1, 1)),
            ("k3_stride2", (2, 2), (1, 1)),
            ("k3_no_padding", (1, 1), (0, 0)),
            ("k3_wide_channels", (1, 1), (1, 1)),
            ("k3_mixed_stride", (2, 1), (1, 0)),
            ("k7", (1, 1), (3, 3)),
            ("k7_stride2", (2, 2), (3, 3)),
            ("k1x5", (1, 1), (0, 2)),
            ("k5x1", (1, 1), (2, 0)),
            ("one_pixel", (1, 1), (1, 1)),
            ("kernel_equals_input", (1, 1), (0, 0)),
            ("k3_winograd", (1, 1), (1, 1)),
        ]
        try forEachDevice { device in
            for (name, stride, padding) in cases {
                let prefix = "conv2d.\(name)."
                let result = conv2d(try fixture.tensor(prefix + "input", on: device), weight: try fixture.tensor(prefix + "weight", on: device),
                                    bias: try fixture.optional(prefix + "bias", on: device), stride: stride, padding: padding)
                assertClose(result, try fixture[prefix + "output"], tolerance: tolerance, "conv2d \(name)")
            }
        }
    }

    func testConv1d() throws {
        let fixture = try engineFixture("conv")
        let cases: [(name: String, stride: Int, padding: Int)] = [("k3", 1, 1), ("k5_stride2", 2, 2), ("pointwise", 1, 0)]
        try forEachDevice { device in
            for (name, stride, padding) in cases {
                let prefix = "conv1d.\(name)."
                let result = conv1d(try fixture.tensor(prefix + "input", on: device), weight: try fixture.tensor(prefix + "weight", on: device),
                                    bias: try fixture.optional(prefix + "bias", on: device), stride: stride, padding: padding)
                assertClose(result, try fixture[prefix + "output"], tolerance: tolerance, "conv1d \(name)")
            }
        }
    }

    /// Convolutions large enough to cross the GEMM blocks (reduction 256, output channels 144, pixels
    /// 2048) and split over threads, against float64.
    func testLargeShapesAgainstFloat64Reference() {
        let cases: [(name: String, input: [Int], weight: [Int], stride: (Int, Int), padding: (Int, Int))] = [
            ("3x3 over 2160 pixels", [1, 29, 48, 45], [8, 29, 3, 3], (1, 1), (1, 1)),
            ("1x1 deep", [1, 260, 13, 15], [150, 260, 1, 1], (1, 1), (0, 0)),
            ("7x7 stride 2", [1, 3, 40, 37], [24, 3, 7, 7], (2, 2), (3, 3)),
        ]
        for (index, (name, inputShape, weightShape, stride, padding)) in cases.enumerated() {
            let x = HostTensor(seeded: inputShape, seed: UInt64(10 + index))
            let weight = HostTensor(seeded: weightShape, seed: UInt64(20 + index))
            let bias = HostTensor(seeded: [weightShape[0]], seed: UInt64(30 + index))
            let expected = referenceConv2d(x, weight: weight, bias: bias, stride: stride, padding: padding).on(.cpu)
            for device in TestDevices.threadVariants {
                let result = conv2d(x.on(device), weight: weight.on(device), bias: bias.on(device), stride: stride, padding: padding)
                assertClose(result, expected, tolerance: tolerance, "conv2d \(name) on \(device)")
            }
        }
    }
}
