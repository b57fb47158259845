// diffusers `UNet2DConditionModel` (0.27.x) driven by its config.json, and the down path it shares
// with `ControlNetModel` (time/class embedding, conv_in, down blocks, mid block).

import Checkpoints
import TensorEngine

/// What UNet2DConditionModel's and ControlNetModel's configs share: the settings of the down path
/// (embeddings, conv_in, down blocks, mid block). The few that differ between the two are resolved by
/// each config (ControlNet has one layer count, honours num_attention_heads, one context width...).
protocol DownPathConfig {
    var inChannels: Int { get }
    var blockOutChannels: [Int] { get }
    var downBlockTypes: [String] { get }
    var midBlockType: String? { get }
    var onlyCrossAttention: PerBlock<Bool> { get }
    var transformerLayersPerBlock: PerBlock<TransformerDepth> { get }
    var useLinearProjection: Bool { get }
    var normNumGroups: Int? { get }
    var normEps: Float { get }
    var downsamplePadding: Int { get }
    var midBlockScaleFactor: Float { get }
    var resnetTimeScaleShift: String { get }
    var flipSinToCos: Bool { get }
    var freqShift: Int { get }
    var numClassEmbeds: Int? { get }
    var downLayersPerBlock: PerBlock<Int> { get }
    var headsPerBlock: PerBlock<Int> { get }
    var contextChannelsPerBlock: PerBlock<Int> { get }
    var timeEmbeddingChannels: Int { get }
    var downPathConvInKernel: Int { get }
}

extension UNet2DConditionConfig: DownPathConfig {
    var downLayersPerBlock: PerBlock<Int> { layersPerBlock }
    /// diffusers' UNet takes `attention_head_dim` as the head count (num_attention_heads is ignored).
    var headsPerBlock: PerBlock<Int> { attentionHeadDim }
    var contextChannelsPerBlock: PerBlock<Int> { crossAttentionDim }
    var timeEmbeddingChannels: Int { timeEmbeddingDim ?? blockOutChannels[0] * 4 }
    var downPathConvInKernel: Int { convInKernel }
}

/// The resolved per-block layout both UNet2DConditionModel and ControlNetModel build their down path
/// from (diffusers' int-or-list settings expanded to one value per down block).
struct UNetArchitecture {
    var inChannels: Int
    var blockOutChannels: [Int]
    var downBlocks: [DownBlockKind]
    var layersPerBlock: [Int]
    var transformerDepths: [TransformerDepth]
    var heads: [Int]
    var onlyCrossAttention: [Bool]
    var contextChannels: [Int]
    var linearProjection: Bool
    var groups: Int
    var epsilon: Float
    var downsamplePadding: Int
    var hasMidBlock: Bool
    var midBlockScaleFactor: Float
    var timeScaleShift: Bool
    var flipSinToCos: Bool
    var frequencyShift: Float
    var timeEmbeddingChannels: Int
    var classCount: Int?
    var convInKernel: Int

    /// Checks shared by both configs; the first unsupported setting, if any.
    static func unsupportedFeature(blocks: [String], blockOutChannels: [Int], midBlockType: String?, actFn: String,
                                   normNumGroups: Int?, classEmbedType: String?, resnetTimeScaleShift: String,
                                   timeEmbeddingType: String, attentionType: String,
                                   perBlockSettings: [(name: String, wrongLength: Bool)]) -> String? {
        if blocks.isEmpty || blockOutChannels.count != blocks.count {
            return "expected one block_out_channels entry per down block (\(blocks.count)), found \(blockOutChannels.count)"
        }
        if let unknown = blocks.first(where: { DownBlockKind(rawValue: $0) == nil }) {
            return "unsupported down block type \(unknown) (expected DownBlock2D or CrossAttnDownBlock2D)"
        }
        if let midBlockType, midBlockType != "UNetMidBlock2DCrossAttn" {
            return "unsupported mid_block_type \(midBlockType) (expected UNetMidBlock2DCrossAttn)"
        }
        if actFn != "silu" && actFn != "swish" { return "unsupported act_fn \(actFn) (expected silu)" }
        if normNumGroups == nil { return "norm_num_groups null is not supported" }
        if let classEmbedType { return "unsupported class_embed_type \(classEmbedType) (expected null)" }
        if resnetTimeScaleShift != "default" && resnetTimeScaleShift != "scale_shift" {
            return "unsupported resnet_time_scale_shift \(resnetTimeScaleShift) (expected default or scale_shift)"
        }
        if timeEmbeddingType != "positional" { return "unsupported time_embedding_type \(timeEmbeddingType) (expected positional)" }
        if attentionType != "default" { return "unsupported attention_type \(attentionType) (expected default)" }
        if let wrong = perBlockSettings.first(where: \.wrongLength) {
            return "\(wrong.name) must be one value or one per down block (\(blocks.count))"
        }
        return nil
    }

    /// The layout of either model's down path; both configs resolve their int-or-list settings here.
    init(_ config: some DownPathConfig) {
        let count = config.downBlockTypes.count
        inChannels = config.inChannels
        blockOutChannels = config.blockOutChannels
        downBlocks = config.downBlockTypes.map { DownBlockKind(rawValue: $0)! }
        layersPerBlock = config.downLayersPerBlock.values(blocks: count)!
        transformerDepths = config.transformerLayersPerBlock.values(blocks: count)!
        heads = config.headsPerBlock.values(blocks: count)!
        onlyCrossAttention = config.onlyCrossAttention.values(blocks: count)!
        contextChannels = config.contextChannelsPerBlock.values(blocks: count)!
        linearProjection = config.useLinearProjection
        groups = config.normNumGroups!
        epsilon = config.normEps
        downsamplePadding = config.downsamplePadding
        hasMidBlock = config.midBlockType != nil
        midBlockScaleFactor = config.midBlockScaleFactor
        timeScaleShift = config.resnetTimeScaleShift == "scale_shift"
        flipSinToCos = config.flipSinToCos
        frequencyShift = Float(config.freqShift)
        timeEmbeddingChannels = config.timeEmbeddingChannels
        classCount = config.numClassEmbeds
        convInKernel = config.downPathConvInKernel
    }

    func transformerSettings(block: Int) -> TransformerSettings {
        TransformerSettings(heads: heads[block], contextChannels: contextChannels[block],
                            onlyCrossAttention: onlyCrossAttention[block], linearProjection: linearProjection, groups: groups)
    }
}

/// The part of the UNet that ControlNet copies: embeddings, conv_in, down blocks and mid block.
struct UNetDownPath {
    let architecture: UNetArchitecture
    let timeEmbedding: TimestepEmbedding
    /// `class_embedding.weight` [num_class_embeds, time embedding channels].
    let classEmbedding: Tensor?
    let convIn: Conv2d
    let downBlocks: [DownBlock]
    let midBlock: MidBlock?

    init(_ weights: WeightLoader, architecture a: UNetArchitecture) {
        architecture = a
        let embeddingChannels = a.timeEmbeddingChannels
        timeEmbedding = TimestepEmbedding(weights["time_embedding"], inChannels: a.blockOutChannels[0],
                                          embeddingChannels: embeddingChannels)
        classEmbedding = a.classCount.map { weights["class_embedding"]("weight", shape: [$0, embeddingChannels]) }
        convIn = Conv2d(weights["conv_in"], inChannels: a.inChannels, outChannels: a.blockOutChannels[0],
                        kernelSize: a.convInKernel, padding: (a.convInKernel - 1) / 2)
        var output = a.blockOutChannels[0]
        downBlocks = a.downBlocks.indices.map { index in
            let input = output
            output = a.blockOutChannels[index]
            return DownBlock(weights["down_blocks.\(index)"], kind: a.downBlocks[index], inChannels: input,
                             outChannels: output, layers: a.layersPerBlock[index], timeEmbeddingChannels: embeddingChannels,
                             groups: a.groups, epsilon: a.epsilon, timeScaleShift: a.timeScaleShift,
                             transformer: a.transformerSettings(block: index),
                             transformerDepths: a.transformerDepths[index].depths(layers: a.layersPerBlock[index]),
                             downsample: index < a.downBlocks.count - 1, downsamplePadding: a.downsamplePadding)
        }
        let last = a.downBlocks.count - 1
        midBlock = a.hasMidBlock
            ? MidBlock(weights["mid_block"], channels: a.blockOutChannels[last], timeEmbeddingChannels: embeddingChannels,
                       groups: a.groups, epsilon: a.epsilon, outputScaleFactor: a.midBlockScaleFactor,
                       timeScaleShift: a.timeScaleShift, transformer: a.transformerSettings(block: last),
                       transformerDepth: a.transformerDepths[last].depths(layers: 1)[0])
            : nil
    }

    /// The time (+ class) embedding for a batch on `device`, before the SiLU every resnet applies.
    func embedding(timestep: Float, batch: Int, classLabels: [Int]?, on device: Device) -> Tensor {
        let a = architecture
        let sinusoid = sinusoidalTimestepEmbedding(timestep: timestep, batch: batch, channels: a.blockOutChannels[0],
                                                   flipSinToCos: a.flipSinToCos, frequencyShift: a.frequencyShift, on: device)
        let embedding = timeEmbedding(sinusoid)
        guard let classEmbedding else { return embedding }
        guard let classLabels, classLabels.count == batch else {
            preconditionFailure("this UNet has a class embedding: pass one class label per batch entry (\(batch))")
        }
        return embedding + TensorEngine.embedding(classEmbedding, indices: classLabels)
    }

    /// Runs the down blocks and mid block on the conv_in output `x`: the mid-block output and every
    /// skip connection in UNet order (conv_in output first).
    func callAsFunction(_ x: Tensor, activatedEmbedding: Tensor, context: Tensor) -> (mid: Tensor, skips: [Tensor]) {
        var hidden = x
        var skips = [x]
        for block in downBlocks {
            let (output, blockSkips) = block(hidden, activatedEmbedding: activatedEmbedding, context: context)
            hidden = output
            skips += blockSkips
        }
        if let midBlock { hidden = midBlock(hidden, activatedEmbedding: activatedEmbedding, context: context) }
        return (hidden, skips)
    }
}

/// diffusers `UNet2DConditionModel` (the cross-attention UNet of Stable Diffusion and the x4 upscaler).
/// Weights are loaded by the exact diffusers state_dict keys.
public struct UNet2DCondition {
    public let config: UNet2DConditionConfig
    let downPath: UNetDownPath
    let upBlocks: [UpBlock]
    let convNormOut: GroupNorm
    let convOut: Conv2d

    public init(config: UNet2DConditionConfig, weights: WeightLoader) {
        precondition(config.unsupportedFeature == nil, "UNet2DConditionConfig: \(config.unsupportedFeature ?? "")")
        self.config = config
        let a = UNetArchitecture(config)
        downPath = UNetDownPath(weights, architecture: a)
        let count = a.downBlocks.count
        let reversedChannels = Array(a.blockOutChannels.reversed())
        let reversedDepths = config.reverseTransformerLayersPerBlock ?? a.transformerDepths.reversed()
        var output = reversedChannels[0]
        upBlocks = (0..<count).map { index in
            let previous = output
            output = reversedChannels[index]
            let input = reversedChannels[min(index + 1, count - 1)]
            let block = count - 1 - index
            let layers = a.layersPerBlock[block] + 1
            let skipChannels = (0..<layers).map { $0 == layers - 1 ? input : output }
            return UpBlock(weights["up_blocks.\(index)"], kind: UpBlockKind(rawValue: config.upBlockTypes[index])!,
                           previousChannels: previous, outChannels: output, skipChannels: skipChannels,
                           timeEmbeddingChannels: a.timeEmbeddingChannels, groups: a.groups, epsilon: a.epsilon,
                           timeScaleShift: a.timeScaleShift, transformer: a.transformerSettings(block: block),
                           transformerDepths: reversedDepths[index].depths(layers: layers), upsample: index < count - 1)
        }
        convNormOut = GroupNorm(weights["conv_norm_out"], groups: a.groups, channels: a.blockOutChannels[0], epsilon: a.epsilon)
        convOut = Conv2d(weights["conv_out"], inChannels: a.blockOutChannels[0], outChannels: config.outChannels,
                         kernelSize: config.convOutKernel, padding: (config.convOutKernel - 1) / 2)
    }

    /// Predicts the noise (or v / x0, per the training) for `sample` [B, in, h, w] at `timestep` given
    /// the text states [B, L, cross_attention_dim]. ControlNet residuals (one per skip connection, and
    /// one for the mid block) are added where diffusers adds them: to the skips after the down path
    /// and to the mid-block output.
    public func callAsFunction(_ sample: Tensor, timestep: Float, encoderHiddenStates: Tensor,
                               downBlockAdditionalResiduals: [Tensor]? = nil, midBlockAdditionalResidual: Tensor? = nil,
                               classLabels: [Int]? = nil) -> Tensor {
        let batch = sample.dim(0)
        let activatedEmbedding = silu(downPath.embedding(timestep: timestep, batch: batch, classLabels: classLabels, on: sample.device))
        let input = config.centerInputSample ? sample * 2 - 1 : sample
        var (hidden, skips) = downPath(downPath.convIn(input), activatedEmbedding: activatedEmbedding,
                                       context: encoderHiddenStates)
        if let residuals = downBlockAdditionalResiduals {
            precondition(residuals.count == skips.count, "expected \(skips.count) down-block residuals, got \(residuals.count)")
            skips = zip(skips, residuals).map { $0 + $1 }
        }
        if let midBlockAdditionalResidual { hidden = hidden + midBlockAdditionalResidual }
        for (index, block) in upBlocks.enumerated() {
            let consumed = block.resnets.count
            let blockSkips = Array(skips.suffix(consumed))
            skips.removeLast(consumed)
            // The skip the next block consumes fixes the upsampled size (odd sizes do not simply double).
            let upsampleSize = index < upBlocks.count - 1 ? skips.last.map { ($0.dim(2), $0.dim(3)) } : nil
            hidden = block(hidden, skips: blockSkips, activatedEmbedding: activatedEmbedding,
                           context: encoderHiddenStates, upsampleSize: upsampleSize)
        }
        return convOut(silu(convNormOut(hidden)))
    }
}
