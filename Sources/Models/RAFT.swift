// RAFT-large optical flow (torchvision `raft_large`, Teed & Deng 2020) with the official state_dict
// keys: feature_encoder.*, context_encoder.*, update_block.*, mask_predictor.*. Stream-DiffVSR calls it
// as raft(image1 = bicubic x4 of the current LR frame, image2 = the previous one), inputs in [-1, 1],
// and uses the last of 12 refinements: the flow from frame 1 to frame 2 in pixels, [1, 2, H, W].

import Checkpoints
import Foundation
import TensorEngine

public struct RAFT {
    /// Every flow computed while refining (the pipeline only needs `flow`, the last one).
    public struct Estimate {
        /// The last flow, x8 convex-upsampled: [1, 2, H, W] in pixels, channel 0 = x (width), 1 = y.
        public let flow: Tensor
        /// coords1 - coords0 after each update, on the 1/8 grid of the (padded) input: [1, 2, H'/8, W'/8].
        public let lowResolutionFlows: [Tensor]
        /// The upsampled flow after each update ([1, 2, H, W]); only filled with `keepIntermediates`.
        public let upsampledFlows: [Tensor]
        /// Feature-encoder output for [image1, image2] ([2, 256, H'/8, W'/8]); only with `keepIntermediates`.
        public let featureMaps: Tensor?
        /// Context-encoder output for image1 before the tanh / ReLU split; only with `keepIntermediates`.
        public let contextFeatures: Tensor?
    }

    /// torchvision's minimum input side: the 4-level pyramid needs 1/8-resolution maps of >= 16 px.
    public static let minimumSide = 128
    public static let downsampling = 8

    public let featureEncoder: RAFTEncoder
    public let contextEncoder: RAFTEncoder
    private let updateBlock: RAFTUpdateBlock
    private let maskPredictor: RAFTMaskPredictor
    /// Which correlation form to use (by default the full volume up to 128 MB, else on demand).
    public var correlationStrategy: CorrelationPyramid.Strategy

    /// Loads torchvision `raft_large` keys. BatchNorm's `num_batches_tracked` buffers are not read:
    /// finish with `loader.finish(ignoring: RAFT.isUnusedKey)`.
    public init(weights: WeightLoader, correlationStrategy: CorrelationPyramid.Strategy = .standard) {
        featureEncoder = RAFTEncoder(weights: weights["feature_encoder"], normalization: .instance)
        contextEncoder = RAFTEncoder(weights: weights["context_encoder"], normalization: .batch)
        updateBlock = RAFTUpdateBlock(weights["update_block"], correlationChannels: CorrelationPyramid.outputChannels,
                                      contextChannels: RAFTEncoder.outputChannels - RAFTUpdateBlock.hiddenChannels)
        maskPredictor = RAFTMaskPredictor(weights["mask_predictor"], inChannels: RAFTUpdateBlock.hiddenChannels)
        self.correlationStrategy = correlationStrategy
    }

    /// Checkpoint keys RAFT has no use for (BatchNorm batch counters).
    public static func isUnusedKey(_ key: String) -> Bool { key.hasSuffix("num_batches_tracked") }

    /// The flow from `image1` to `image2` ([1, 3, H, W] each, values in [-1, 1]) after `iterations`
    /// refinements: [1, 2, H, W] in pixels.
    public func callAsFunction(image1: Tensor, image2: Tensor, iterations: Int = 12) -> Tensor {
        estimate(image1: image1, image2: image2, iterations: iterations).flow
    }

    /// torchvision's forward. Sizes: torchvision needs H and W to be multiples of 8 and at least 128
    /// (it raises otherwise). Here any size works: smaller or non-multiple frames are padded at the
    /// bottom and right by edge replication up to max(128, next multiple of 8), and the flow is cropped
    /// back to H x W. Replication keeps the padded band's content (and so its correlation) close to the
    /// frame edge, and padding only bottom/right keeps pixel coordinates unchanged; sizes RAFT accepts
    /// are not padded, so they match torchvision exactly.
    public func estimate(image1: Tensor, image2: Tensor, iterations: Int = 12, keepIntermediates: Bool = false) -> Estimate {
        precondition(image1.rank == 4 && image1.shape[0] == 1 && image1.shape[1] == 3 && image1.shape == image2.shape,
                     "RAFT: images must both be [1, 3, H, W], got \(image1.shape) and \(image2.shape)")
        precondition(iterations >= 1, "RAFT: needs at least one iteration")
        let (height, width) = (image1.shape[2], image1.shape[3])
        let paddedHeight = Self.paddedSide(height), paddedWidth = Self.paddedSide(width)
        let needsPadding = (paddedHeight, paddedWidth) != (height, width)
        let first = needsPadding ? image1.padded(bottom: paddedHeight - height, right: paddedWidth - width, mode: .replicate) : image1
        let second = needsPadding ? image2.padded(bottom: paddedHeight - height, right: paddedWidth - width, mode: .replicate) : image2

        // One image at a time (torchvision batches the pair): the same numbers, as instance norm and the
        // convolutions work per image, at half the peak memory on large frames.
        let (fmap1, fmap2) = (featureEncoder(first), featureEncoder(second))
        let pyramid = CorrelationPyramid(fmap1: fmap1, fmap2: fmap2, strategy: correlationStrategy)
        let contextOutput = contextEncoder(first)
        let hiddenChannels = RAFTUpdateBlock.hiddenChannels
        var hidden = tanh(contextOutput.slice(axis: 1, 0..<hiddenChannels))
        let context = relu(contextOutput.slice(axis: 1, hiddenChannels..<RAFTEncoder.outputChannels))

        let coords0 = coordinateGrid(height: pyramid.height, width: pyramid.width, on: image1.device)
        var coords1 = coords0
        var lowResolutionFlows: [Tensor] = [], upsampledFlows: [Tensor] = []
        var flow = Tensor(zeros: coords0.shape, on: image1.device)
        for iteration in 0..<iterations {
            let correlation = pyramid.lookup(coords1)
            let (updatedHidden, delta) = updateBlock(hidden: hidden, context: context, correlation: correlation,
                                                     flow: coords1 - coords0)
            hidden = updatedHidden
            coords1 = coords1 + delta
            let lowResolution = coords1 - coords0
            lowResolutionFlows.append(lowResolution)
            if keepIntermediates || iteration == iterations - 1 {
                flow = convexUpsample(flow: lowResolution, mask: maskPredictor(hidden), factor: Self.downsampling)
                if needsPadding { flow = flow.slice(axis: 2, 0..<height).slice(axis: 3, 0..<width) }
                if keepIntermediates { upsampledFlows.append(flow) }
            }
        }
        return Estimate(flow: flow, lowResolutionFlows: lowResolutionFlows, upsampledFlows: upsampledFlows,
                        featureMaps: keepIntermediates ? concat([fmap1, fmap2], axis: 0) : nil, contextFeatures: keepIntermediates ? contextOutput : nil)
    }

    static func paddedSide(_ side: Int) -> Int {
        max(minimumSide, (side + downsampling - 1) / downsampling * downsampling)
    }
}
