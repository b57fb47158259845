// group_norm, layer_norm, instance_norm and inference batch_norm against torch.nn.functional, on
// inputs with a large mean (so the mean subtraction and eps placement matter), 1-pixel and length-1
// normalisation extents, and with and without affine parameters; on every test device.

import TensorEngine
import TestSupport
import XCTest

final class NormalizationParityTests: XCTestCase {
    let tolerance: Float = 1e-5

    func testGroupNorm() throws {
        let fixture = try engineFixture("norm")
        let cases: [(name: String, groups: Int, epsilon: Float)] = [
            ("affine", 4, 1e-5), ("per_channel", 32, 1e-6), ("one_pixel", 3, 1e-6),
            ("single_group_plain", 1, 1e-5), ("rank3", 2, 1e-5),
        ]
        try forEachDevice { device in
            for (name, groups, epsilon) in cases {
                let prefix = "group_norm.\(name)."
                let result = groupNorm(try fixture.tensor(prefix + "input", on: device), groups: groups,
                                       weight: try fixture.optional(prefix + "weight", on: device),
                                       bias: try fixture.optional(prefix + "bias", on: device), epsilon: epsilon)
                assertClose(result, try fixture[prefix + "output"], tolerance: tolerance, "group_norm \(name)")
            }
        }
    }

    func testLayerNorm() throws {
        let fixture = try engineFixture("norm")
        let cases: [(name: String, epsilon: Float)] = [("affine", 1e-5), ("plain_eps12", 1e-12), ("length1", 1e-5)]
        try forEachDevice { device in
            for (name, epsilon) in cases {
                let prefix = "layer_norm.\(name)."
                let result = layerNorm(try fixture.tensor(prefix + "input", on: device),
                                       weight: try fixture.optional(prefix + "weight", on: device),
                                       bias: try fixture.optional(prefix + "bias", on: device), epsilon: epsilon)
                assertClose(result, try fixture[prefix + "output"], tolerance: tolerance, "layer_norm \(name)")
            }
        }
    }

    func testInstanceNorm() throws {
        let fixture = try engineFixture("norm")
        let cases: [(name: String, epsilon: Float)] = [("affine", 1e-5), ("plain", 1e-3)]
        try forEachDevice { device in
            for (name, epsilon) in cases {
                let prefix = "instance_norm.\(name)."
                let result = instanceNorm(try fixture.tensor(prefix + "input", on: device),
                                          weight: try fixture.optional(prefix + "weight", on: device),
                                          bias: try fixture.optional(prefix + "bias", on: device), epsilon: epsilon)
                assertClose(result, try fixture[prefix + "output"], tolerance: tolerance, "instance_norm \(name)")
            }
        }
    }

    func testBatchNormInference() throws {
        let fixture = try engineFixture("norm")
        let cases: [(name: String, epsilon: Float)] = [("affine", 1e-5), ("plain_eps3", 1e-3)]
        try forEachDevice { device in
            for (name, epsilon) in cases {
                let prefix = "batch_norm.\(name)."
                let result = batchNorm(try fixture.tensor(prefix + "input", on: device),
                                       runningMean: try fixture.tensor(prefix + "running_mean", on: device),
                                       runningVariance: try fixture.tensor(prefix + "running_var", on: device),
                                       weight: try fixture.optional(prefix + "weight", on: device),
                                       bias: try fixture.optional(prefix + "bias", on: device), epsilon: epsilon)
                assertClose(result, try fixture[prefix + "output"], tolerance: tolerance, "batch_norm \(name)")
            }
        }
    }

    /// A 90,000-element group far from zero mean (where one-pass float statistics fall apart),
    /// against float64 statistics.
    func testLongRowsAgainstFloat64Reference() {
        let x = HostTensor(seeded: [1, 4, 150, 301], seed: 51, scale: 2, offset: 50)
        let weight = HostTensor(seeded: [4], seed: 52), bias = HostTensor(seeded: [4], seed: 53)
        var expected = [Float](repeating: 0, count: x.values.count)
        let length = 2 * 150 * 301
        for group in 0..<2 {
            let values = (0..<length).map { Double(x.values[group * length + $0]) }
            let mean = values.reduce(0, +) / Double(length)
            let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(length)
            for i in 0..<length {
                let channel = 2 * group + i / (150 * 301)
                let normalised = (values[i] - mean) / (variance + 1e-6).squareRoot()
                expected[group * length + i] = Float(normalised * Double(weight.values[channel]) + Double(bias.values[channel]))
            }
        }
        let reference = HostTensor(shape: x.shape, values: expected).on(.cpu)
        for device in TestDevices.threadVariants {
            let result = groupNorm(x.on(device), groups: 2, weight: weight.on(device), bias: bias.on(device), epsilon: 1e-6)
            assertClose(result, reference, tolerance: tolerance, "group_norm on \(device)")
        }
    }
}
