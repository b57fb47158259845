// The two convolutional encoders of torchvision's RAFT-large: the feature encoder (instance norm, run
// on both frames) and the context encoder (batch norm with running statistics, run on the first frame).
// Both downsample by 8 and share one layout: a 7x7 stride-2 stem, three stages of two residual blocks,
// and a 1x1 projection to 256 channels.

import Checkpoints
import TensorEngine

/// The normalisation after each convolution of a RAFT encoder.
public enum RAFTEncoderNormalization: Sendable {
    /// `InstanceNorm2d` without affine parameters or running statistics (biased variance, eps 1e-5).
    case instance
    /// `BatchNorm2d` in eval mode: running mean / variance, affine weight and bias, eps 1e-5.
    case batch
}

/// torchvision `Conv2dNormActivation` as RAFT builds it: convolution (key "0", with bias), optional
/// normalisation (key "1"), optional ReLU. Padding is (kernel - 1) / 2.
struct RAFTConvNormActivation {
    private enum Normalization {
        case instance
        case batch(mean: Tensor, variance: Tensor, weight: Tensor, bias: Tensor)
    }

    private let conv: Conv2d
    private let normalization: Normalization?
    private let appliesReLU: Bool

    init(_ weights: WeightLoader, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1,
         normalization: RAFTEncoderNormalization?, relu: Bool = true) {
        conv = Conv2d(weights["0"], inChannels: inChannels, outChannels: outChannels, kernelSize: kernelSize,
                      stride: stride, padding: (kernelSize - 1) / 2)
        switch normalization {
        case .instance?:
            self.normalization = .instance
        case .batch?:
            let norm = weights["1"]
            self.normalization = .batch(mean: norm("running_mean", shape: [outChannels]),
                                        variance: norm("running_var", shape: [outChannels]),
                                        weight: norm("weight", shape: [outChannels]),
                                        bias: norm("bias", shape: [outChannels]))
        case nil:
            self.normalization = nil
        }
        appliesReLU = relu
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var y = conv(x)
        switch normalization {
        case .instance?:
            y = instanceNorm(y, epsilon: 1e-5)
        case let .batch(mean, variance, weight, bias)?:
            y = batchNorm(y, runningMean: mean, runningVariance: variance, weight: weight, bias: bias, epsilon: 1e-5)
        case nil:
            break
        }
        return appliesReLU ? relu(y) : y
    }
}

/// RAFT's residual block: two conv-norm-ReLU layers, a 1x1 conv-norm projection of the input when the
/// block strides, and a ReLU after the sum.
struct RAFTResidualBlock {
    private let first: RAFTConvNormActivation
    private let second: RAFTConvNormActivation
    private let downsample: RAFTConvNormActivation?

    init(_ weights: WeightLoader, inChannels: Int, outChannels: Int, stride: Int,
         normalization: RAFTEncoderNormalization) {
        first = RAFTConvNormActivation(weights["convnormrelu1"], inChannels: inChannels, outChannels: outChannels,
                                       kernelSize: 3, stride: stride, normalization: normalization)
        second = RAFTConvNormActivation(weights["convnormrelu2"], inChannels: outChannels, outChannels: outChannels,
                                        kernelSize: 3, normalization: normalization)
        downsample = stride == 1 ? nil
            : RAFTConvNormActivation(weights["downsample"], inChannels: inChannels, outChannels: outChannels,
                                     kernelSize: 1, stride: stride, normalization: normalization, relu: false)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let y = second(first(x))
        return relu((downsample?(x) ?? x) + y)
    }
}

/// torchvision `FeatureEncoder` with RAFT-large's layers (64, 64, 96, 128, 256) and strides (2, 1, 2, 2):
/// [N, 3, H, W] -> [N, 256, ceil(H/8), ceil(W/8)].
public struct RAFTEncoder {
    public static let outputChannels = 256

    private let stem: RAFTConvNormActivation
    private let stages: [[RAFTResidualBlock]]
    private let projection: Conv2d

    public init(weights: WeightLoader, normalization: RAFTEncoderNormalization) {
        stem = RAFTConvNormActivation(weights["convnormrelu"], inChannels: 3, outChannels: 64, kernelSize: 7,
                                      stride: 2, normalization: normalization)
        let stageShapes: [(input: Int, output: Int, stride: Int)] = [(64, 64, 1), (64, 96, 2), (96, 128, 2)]
        stages = stageShapes.enumerated().map { index, shape in
            let stage = weights["layer\(index + 1)"]
            return [RAFTResidualBlock(stage["0"], inChannels: shape.input, outChannels: shape.output,
                                      stride: shape.stride, normalization: normalization),
                    RAFTResidualBlock(stage["1"], inChannels: shape.output, outChannels: shape.output,
                                      stride: 1, normalization: normalization)]
        }
        projection = Conv2d(weights["conv"], inChannels: 128, outChannels: Self.outputChannels, kernelSize: 1)
    }

    public func callAsFunction(_ images: Tensor) -> Tensor {
        var x = stem(images)
        for block in stages.joined() { x = block(x) }
        return projection(x)
    }
}
