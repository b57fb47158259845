// Models: the networks of Stream-DiffVSR, one file per component, each built from its diffusers /
// transformers / torchvision config and loaded strictly by the reference's state_dict keys.
// This file holds the basic layers every network shares.

import Checkpoints
import TensorEngine

/// `nn.Conv2d` (groups 1): weight [out, in, kh, kw], optional bias.
public struct Conv2d {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: (Int, Int)
    public let padding: (Int, Int)

    public init(_ weights: WeightLoader, inChannels: Int, outChannels: Int, kernelSize: (Int, Int),
                stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), bias: Bool = true) {
        self.weight = weights("weight", shape: [outChannels, inChannels, kernelSize.0, kernelSize.1])
        self.bias = bias ? weights("bias", shape: [outChannels]) : nil
        self.stride = stride
        self.padding = padding
    }

    /// From tensors already in memory (e.g. two convolutions over the same input stacked into one).
    public init(weight: Tensor, bias: Tensor?, stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0)) {
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
    }

    /// Square kernel, "same"-style padding by default (kernel / 2).
    public init(_ weights: WeightLoader, inChannels: Int, outChannels: Int, kernelSize: Int,
                stride: Int = 1, padding: Int? = nil, bias: Bool = true) {
        let pad = padding ?? kernelSize / 2
        self.init(weights, inChannels: inChannels, outChannels: outChannels, kernelSize: (kernelSize, kernelSize),
                  stride: (stride, stride), padding: (pad, pad), bias: bias)
    }

    public var outChannels: Int { weight.shape[0] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

/// `nn.Linear`: weight [out, in] as the checkpoint stores it (no transposed copy: the GEMM reads it
/// transposed, and an fp32 checkpoint is used in place), optional bias.
public struct Linear {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ weights: WeightLoader, inFeatures: Int, outFeatures: Int, bias: Bool = true) {
        weight = weights("weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? weights("bias", shape: [outFeatures]) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x, weight: weight, bias: bias) }
}

/// `nn.GroupNorm` with affine parameters.
public struct GroupNorm {
    public let groups: Int
    public let epsilon: Float
    public let weight: Tensor
    public let bias: Tensor

    public init(_ weights: WeightLoader, groups: Int, channels: Int, epsilon: Float) {
        self.groups = groups
        self.epsilon = epsilon
        self.weight = weights("weight", shape: [channels])
        self.bias = weights("bias", shape: [channels])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        groupNorm(x, groups: groups, weight: weight, bias: bias, epsilon: epsilon)
    }
}

/// `nn.LayerNorm` over the last dimension with affine parameters.
public struct LayerNorm {
    public let epsilon: Float
    public let weight: Tensor
    public let bias: Tensor

    public init(_ weights: WeightLoader, channels: Int, epsilon: Float = 1e-5) {
        self.epsilon = epsilon
        self.weight = weights("weight", shape: [channels])
        self.bias = weights("bias", shape: [channels])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, weight: weight, bias: bias, epsilon: epsilon) }
}
