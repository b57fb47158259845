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
    /// Which correlation form to use; nil picks by size (`CorrelationPyramid.Strategy.automatic`).
    public var correlationStrategy: CorrelationPyramid.Strategy?

    /// Loads torchvision `raft_large` keys. BatchNorm's `num_batches_tracked` buffers are not read:
    /// finish with `loader.finish(ignoring: RAFT.isUnusedKey)`.
    public init(weights: WeightLoader, correlationStrategy: CorrelationPyramid.Strategy? = nil) {
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
        let first = needsPadding ? replicatePadded(image1, height: paddedHeight, width: paddedWidth) : image1
        let second = needsPadding ? replicatePadded(image2, height: paddedHeight, width: paddedWidth) : image2

        let fmaps = featureEncoder(concat([first, second], axis: 0))
        let (fmap1, fmap2) = (fmaps.slice(axis: 0, 0..<1), fmaps.slice(axis: 0, 1..<2))
        let pyramid = CorrelationPyramid(fmap1: fmap1, fmap2: fmap2, strategy: correlationStrategy)
        let contextOutput = contextEncoder(first)
        let hiddenChannels = RAFTUpdateBlock.hiddenChannels
        var hidden = tanh(contextOutput.slice(axis: 1, 0..<hiddenChannels))
        let context = relu(contextOutput.slice(axis: 1, hiddenChannels..<RAFTEncoder.outputChannels))

        let coords0 = Self.coordinateGrid(height: pyramid.height, width: pyramid.width)
        var coords1 = coords0.copy()
        var lowResolutionFlows: [Tensor] = [], upsampledFlows: [Tensor] = []
        var flow = Tensor(zeros: coords0.shape)
        for iteration in 0..<iterations {
            let correlation = pyramid.lookup(coords1)
            let (updatedHidden, delta) = updateBlock(hidden: hidden, context: context, correlation: correlation,
                                                     flow: coords1 - coords0)
            hidden = updatedHidden
            coords1 = coords1 + delta
            let lowResolution = coords1 - coords0
            lowResolutionFlows.append(lowResolution)
            if keepIntermediates || iteration == iterations - 1 {
                flow = Self.convexUpsampled(lowResolution, mask: maskPredictor(hidden))
                if needsPadding { flow = flow.slice(axis: 2, 0..<height).slice(axis: 3, 0..<width) }
                if keepIntermediates { upsampledFlows.append(flow) }
            }
        }
        return Estimate(flow: flow, lowResolutionFlows: lowResolutionFlows, upsampledFlows: upsampledFlows,
                        featureMaps: keepIntermediates ? fmaps : nil, contextFeatures: keepIntermediates ? contextOutput : nil)
    }

    static func paddedSide(_ side: Int) -> Int {
        max(minimumSide, (side + downsampling - 1) / downsampling * downsampling)
    }

    /// [1, 2, h, w]: channel 0 = x (column index), channel 1 = y (row index).
    static func coordinateGrid(height: Int, width: Int) -> Tensor {
        let grid = Tensor(uninitializedShape: [1, 2, height, width])
        for y in 0..<height {
            for x in 0..<width {
                grid.data[y * width + x] = Float(x)
                grid.data[height * width + y * width + x] = Float(y)
            }
        }
        return grid
    }

    /// torchvision `upsample_flow` with a mask: each fine pixel (8y + i, 8x + j) is a convex combination,
    /// softmax over the 9 weights mask[k * 64 + i * 8 + j] (k = 3 * ky + kx), of 8 x the coarse flow at the
    /// 3x3 neighbours (y + ky - 1, x + kx - 1) of (y, x), zero outside the grid (unfold with padding 1).
    static func convexUpsampled(_ flow: Tensor, mask: Tensor) -> Tensor {
        let (height, width) = (flow.shape[2], flow.shape[3])
        let factor = downsampling, pixels = height * width
        precondition(mask.shape == [1, 9 * factor * factor, height, width], "convex upsampling: mask \(mask.shape)")
        let result = Tensor(uninitializedShape: [1, 2, height * factor, width * factor])
        let (flowData, maskData, output) = (flow.data, mask.data, result.data)
        let outputWidth = width * factor, outputPlane = pixels * factor * factor
        Parallel.forEach(height, minimumChunk: 1) { y in
            var neighbours = [Float](repeating: 0, count: 2 * 9)
            var weights = [Float](repeating: 0, count: 9)
            for x in 0..<width {
                for k in 0..<9 {
                    let ny = y + k / 3 - 1, nx = x + k % 3 - 1
                    let inside = ny >= 0 && ny < height && nx >= 0 && nx < width
                    for c in 0..<2 {
                        neighbours[c * 9 + k] = inside ? Float(factor) * flowData[c * pixels + ny * width + nx] : 0
                    }
                }
                for i in 0..<factor {
                    for j in 0..<factor {
                        let maskBase = maskData + (i * factor + j) * pixels + y * width + x
                        var largest = -Float.infinity
                        for k in 0..<9 { largest = max(largest, maskBase[k * factor * factor * pixels]) }
                        var total: Float = 0
                        for k in 0..<9 {
                            weights[k] = expf(maskBase[k * factor * factor * pixels] - largest)
                            total += weights[k]
                        }
                        let outputIndex = (y * factor + i) * outputWidth + x * factor + j
                        for c in 0..<2 {
                            var sum: Float = 0
                            for k in 0..<9 { sum += weights[k] / total * neighbours[c * 9 + k] }
                            output[c * outputPlane + outputIndex] = sum
                        }
                    }
                }
            }
        }
        return result
    }
}

/// Pads an NCHW tensor at the bottom and right to `height` x `width` by repeating the last row / column.
private func replicatePadded(_ x: Tensor, height: Int, width: Int) -> Tensor {
    let (planes, sourceHeight, sourceWidth) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
    let result = Tensor(uninitializedShape: [x.shape[0], x.shape[1], height, width])
    for plane in 0..<planes {
        let source = x.data + plane * sourceHeight * sourceWidth
        let target = result.data + plane * height * width
        for y in 0..<height {
            let row = source + min(y, sourceHeight - 1) * sourceWidth
            for column in 0..<width { target[y * width + column] = row[min(column, sourceWidth - 1)] }
        }
    }
    return result
}
