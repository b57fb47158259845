// The recurrent part of torchvision's RAFT-large, run once per refinement iteration on the 1/8 grid:
// motion encoder (correlation features + current flow), two separable ConvGRUs (1x5 then 5x1) and the
// flow head; plus the mask predictor whose 576 channels drive the convex x8 upsampling.

import Checkpoints
import TensorEngine

/// `MotionEncoder`: corr (324 ch) -> 1x1 256 -> 3x3 192; flow (2 ch) -> 7x7 128 -> 3x3 64; both -> 3x3 126,
/// then the raw flow is appended (128 channels out). Every convolution is followed by a ReLU.
struct RAFTMotionEncoder {
    private let correlation1: RAFTConvNormActivation
    private let correlation2: RAFTConvNormActivation
    private let flow1: RAFTConvNormActivation
    private let flow2: RAFTConvNormActivation
    private let fuse: RAFTConvNormActivation

    init(_ weights: WeightLoader, correlationChannels: Int) {
        correlation1 = RAFTConvNormActivation(weights["convcorr1"], inChannels: correlationChannels, outChannels: 256,
                                              kernelSize: 1, normalization: nil)
        correlation2 = RAFTConvNormActivation(weights["convcorr2"], inChannels: 256, outChannels: 192,
                                              kernelSize: 3, normalization: nil)
        flow1 = RAFTConvNormActivation(weights["convflow1"], inChannels: 2, outChannels: 128, kernelSize: 7,
                                       normalization: nil)
        flow2 = RAFTConvNormActivation(weights["convflow2"], inChannels: 128, outChannels: 64, kernelSize: 3,
                                       normalization: nil)
        fuse = RAFTConvNormActivation(weights["conv"], inChannels: 192 + 64, outChannels: 128 - 2, kernelSize: 3,
                                      normalization: nil)
    }

    func callAsFunction(flow: Tensor, correlation: Tensor) -> Tensor {
        let correlationFeatures = correlation2(correlation1(correlation))
        let flowFeatures = flow2(flow1(flow))
        return concat([fuse(concat([correlationFeatures, flowFeatures], axis: 1)), flow], axis: 1)
    }
}

/// `ConvGRU`: z = σ(convz[h, x]), r = σ(convr[h, x]), q = tanh(convq[r·h, x]), h' = (1 - z)·h + z·q.
struct RAFTConvGRU {
    /// convz and convr stacked into one convolution of 2 x hidden outputs: both read [h, x], which
    /// is then packed for the GEMM once instead of twice.
    private let updateAndResetGates: Conv2d
    private let candidate: Conv2d

    init(_ weights: WeightLoader, inputChannels: Int, hiddenChannels: Int, kernelSize: (Int, Int), padding: (Int, Int)) {
        func gate(_ name: String) -> Conv2d {
            Conv2d(weights[name], inChannels: hiddenChannels + inputChannels, outChannels: hiddenChannels,
                   kernelSize: kernelSize, padding: padding)
        }
        let (update, reset) = (gate("convz"), gate("convr"))
        updateAndResetGates = Conv2d(weight: concat([update.weight, reset.weight], axis: 0),
                                     bias: concat([update.bias!, reset.bias!], axis: 0),
                                     stride: update.stride, padding: update.padding)
        candidate = gate("convq")
    }

    func callAsFunction(hidden h: Tensor, input x: Tensor) -> Tensor {
        let hx = concat([h, x], axis: 1)
        let gates = sigmoid(updateAndResetGates(hx))
        let hiddenChannels = h.shape[1]
        let z = gates.slice(axis: 1, 0..<hiddenChannels)
        let r = gates.slice(axis: 1, hiddenChannels..<(2 * hiddenChannels))
        let q = tanh(candidate(concat([r * h, x], axis: 1)))
        return blend(h, q, weight: z)
    }
}

/// `UpdateBlock` of RAFT-large: motion encoder, recurrent block (1x5 GRU then 5x1 GRU on
/// [context, motion features]) and flow head (3x3 256, ReLU, 3x3 2).
struct RAFTUpdateBlock {
    static let hiddenChannels = 128

    private let motionEncoder: RAFTMotionEncoder
    private let horizontalGRU: RAFTConvGRU
    private let verticalGRU: RAFTConvGRU
    private let flowHead1: Conv2d
    private let flowHead2: Conv2d

    init(_ weights: WeightLoader, correlationChannels: Int, contextChannels: Int) {
        motionEncoder = RAFTMotionEncoder(weights["motion_encoder"], correlationChannels: correlationChannels)
        let recurrent = weights["recurrent_block"]
        let gruInput = contextChannels + 128
        horizontalGRU = RAFTConvGRU(recurrent["convgru1"], inputChannels: gruInput, hiddenChannels: Self.hiddenChannels,
                                    kernelSize: (1, 5), padding: (0, 2))
        verticalGRU = RAFTConvGRU(recurrent["convgru2"], inputChannels: gruInput, hiddenChannels: Self.hiddenChannels,
                                  kernelSize: (5, 1), padding: (2, 0))
        flowHead1 = Conv2d(weights["flow_head"]["conv1"], inChannels: Self.hiddenChannels, outChannels: 256, kernelSize: 3)
        flowHead2 = Conv2d(weights["flow_head"]["conv2"], inChannels: 256, outChannels: 2, kernelSize: 3)
    }

    /// Returns the new hidden state and the flow increment (both on the 1/8 grid).
    func callAsFunction(hidden: Tensor, context: Tensor, correlation: Tensor, flow: Tensor) -> (hidden: Tensor, delta: Tensor) {
        let motion = motionEncoder(flow: flow, correlation: correlation)
        let input = concat([context, motion], axis: 1)
        let updated = verticalGRU(hidden: horizontalGRU(hidden: hidden, input: input), input: input)
        return (updated, flowHead2(relu(flowHead1(updated))))
    }
}

/// `MaskPredictor`: 3x3 conv 256 + ReLU, 1x1 conv to 8·8·9 channels, times 0.25.
struct RAFTMaskPredictor {
    private let hiddenLayer: RAFTConvNormActivation
    private let output: Conv2d

    init(_ weights: WeightLoader, inChannels: Int) {
        hiddenLayer = RAFTConvNormActivation(weights["convrelu"], inChannels: inChannels, outChannels: 256,
                                             kernelSize: 3, normalization: nil)
        output = Conv2d(weights["conv"], inChannels: 256, outChannels: 8 * 8 * 9, kernelSize: 1)
    }

    func callAsFunction(_ hidden: Tensor) -> Tensor { 0.25 * output(hiddenLayer(hidden)) }
}
