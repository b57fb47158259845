// diffusers `ControlNetModel` (0.27.x): a copy of the UNet's down path whose input gets a conditioning
// image embedded to latent size, and whose skips and mid-block output go through zero-initialised
// 1x1 convs to become the residuals the UNet adds (guess mode not implemented).

import Checkpoints
import TensorEngine

extension ControlNetConfig: DownPathConfig {
    var downLayersPerBlock: PerBlock<Int> { .shared(layersPerBlock) }
    /// ControlNet honours num_attention_heads, falling back to attention_head_dim (the head count).
    var headsPerBlock: PerBlock<Int> { numAttentionHeads ?? attentionHeadDim }
    var contextChannelsPerBlock: PerBlock<Int> { .shared(crossAttentionDim) }
    var timeEmbeddingChannels: Int { blockOutChannels[0] * 4 }
    var downPathConvInKernel: Int { 3 }
}

/// `ControlNetConditioningEmbedding`: conv_in, then per stage a 3x3 conv and a stride-2 3x3 conv that
/// widens to the next stage (SiLU after each), then conv_out to the UNet's first width (no activation).
/// With n stages the image shrinks by 2^(n-1).
struct ControlNetConditioningEmbedding {
    let convIn: Conv2d
    let blocks: [Conv2d]
    let convOut: Conv2d

    init(_ weights: WeightLoader, conditioningChannels: Int, stageChannels: [Int], outChannels: Int) {
        convIn = Conv2d(weights["conv_in"], inChannels: conditioningChannels, outChannels: stageChannels[0], kernelSize: 3)
        blocks = stageChannels.indices.dropLast().flatMap { stage in
            [Conv2d(weights["blocks.\(2 * stage)"], inChannels: stageChannels[stage], outChannels: stageChannels[stage],
                    kernelSize: 3),
             Conv2d(weights["blocks.\(2 * stage + 1)"], inChannels: stageChannels[stage],
                    outChannels: stageChannels[stage + 1], kernelSize: 3, stride: 2)]
        }
        convOut = Conv2d(weights["conv_out"], inChannels: stageChannels[stageChannels.count - 1], outChannels: outChannels,
                         kernelSize: 3)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var hidden = silu(convIn(x))
        for block in blocks { hidden = silu(block(hidden)) }
        return convOut(hidden)
    }
}

/// diffusers `ControlNetModel`. Weights are loaded by the exact diffusers state_dict keys.
public struct ControlNet {
    public let config: ControlNetConfig
    let downPath: UNetDownPath
    let conditioningEmbedding: ControlNetConditioningEmbedding
    /// `controlnet_down_blocks`: one 1x1 conv per UNet skip connection.
    let downProjections: [Conv2d]
    let midProjection: Conv2d

    public init(config: ControlNetConfig, weights: WeightLoader) {
        precondition(config.unsupportedFeature == nil, "ControlNetConfig: \(config.unsupportedFeature ?? "")")
        self.config = config
        let a = UNetArchitecture(config)
        downPath = UNetDownPath(weights, architecture: a)
        conditioningEmbedding = ControlNetConditioningEmbedding(
            weights["controlnet_cond_embedding"], conditioningChannels: config.conditioningChannels,
            stageChannels: config.conditioningEmbeddingOutChannels, outChannels: a.blockOutChannels[0])
        var skipChannels = [a.blockOutChannels[0]]
        for (index, channels) in a.blockOutChannels.enumerated() {
            skipChannels += Array(repeating: channels, count: a.layersPerBlock[index] + (index < a.downBlocks.count - 1 ? 1 : 0))
        }
        downProjections = skipChannels.enumerated().map { index, channels in
            Conv2d(weights["controlnet_down_blocks.\(index)"], inChannels: channels, outChannels: channels, kernelSize: 1)
        }
        let midChannels = a.blockOutChannels[a.blockOutChannels.count - 1]
        midProjection = Conv2d(weights["controlnet_mid_block"], inChannels: midChannels, outChannels: midChannels, kernelSize: 1)
    }

    /// The UNet residuals for `sample` [B, in, h, w] guided by `condition` [B, conditioning_channels,
    /// h * 2^(stages-1), w * 2^(stages-1)], each multiplied by `conditioningScale`: one per UNet skip
    /// connection (UNet order) and one for the mid block.
    public func callAsFunction(_ sample: Tensor, timestep: Float, encoderHiddenStates: Tensor,
                               condition: Tensor, conditioningScale: Float = 1) -> (down: [Tensor], mid: Tensor) {
        let activatedEmbedding = silu(downPath.embedding(timestep: timestep, batch: sample.dim(0), classLabels: nil, on: sample.device))
        let orderedCondition = config.controlnetConditioningChannelOrder == "bgr"
            ? concat((0..<condition.dim(1)).reversed().map { condition.slice(axis: 1, $0..<($0 + 1)) }, axis: 1)
            : condition
        let input = downPath.convIn(sample) + conditioningEmbedding(orderedCondition)
        let (mid, skips) = downPath(input, activatedEmbedding: activatedEmbedding, context: encoderHiddenStates)
        let down = zip(downProjections, skips).map { projection, skip in scaled(projection(skip), by: conditioningScale) }
        return (down, scaled(midProjection(mid), by: conditioningScale))
    }

    private func scaled(_ x: Tensor, by scale: Float) -> Tensor { scale == 1 ? x : x * scale }
}
