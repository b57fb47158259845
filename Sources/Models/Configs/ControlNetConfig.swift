// The diffusers `ControlNetModel` config.json (0.27.x).

import Foundation

/// Mirrors `ControlNetModel`'s config. Unlike the UNet, diffusers honours `num_attention_heads` here
/// (falling back to `attention_head_dim`, which is then the head COUNT).
public struct ControlNetConfig: Codable, Equatable, CheckedConfigFile {
    public var inChannels: Int
    public var conditioningChannels: Int
    public var flipSinToCos: Bool
    public var freqShift: Int
    public var downBlockTypes: [String]
    public var midBlockType: String?
    public var onlyCrossAttention: PerBlock<Bool>
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var downsamplePadding: Int
    public var midBlockScaleFactor: Float
    public var actFn: String
    public var normNumGroups: Int?
    public var normEps: Float
    public var crossAttentionDim: Int
    public var transformerLayersPerBlock: PerBlock<TransformerDepth>
    public var attentionHeadDim: PerBlock<Int>
    public var numAttentionHeads: PerBlock<Int>?
    public var useLinearProjection: Bool
    public var classEmbedType: String?
    public var numClassEmbeds: Int?
    public var upcastAttention: Bool
    public var resnetTimeScaleShift: String
    public var controlnetConditioningChannelOrder: String
    public var conditioningEmbeddingOutChannels: [Int]
    public var globalPoolConditions: Bool
    public var additionEmbedType: String?
    public var encoderHidDim: Int?

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", conditioningChannels = "conditioning_channels"
        case flipSinToCos = "flip_sin_to_cos", freqShift = "freq_shift"
        case downBlockTypes = "down_block_types", midBlockType = "mid_block_type"
        case onlyCrossAttention = "only_cross_attention", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", downsamplePadding = "downsample_padding"
        case midBlockScaleFactor = "mid_block_scale_factor", actFn = "act_fn"
        case normNumGroups = "norm_num_groups", normEps = "norm_eps", crossAttentionDim = "cross_attention_dim"
        case transformerLayersPerBlock = "transformer_layers_per_block"
        case attentionHeadDim = "attention_head_dim", numAttentionHeads = "num_attention_heads"
        case useLinearProjection = "use_linear_projection"
        case classEmbedType = "class_embed_type", numClassEmbeds = "num_class_embeds"
        case upcastAttention = "upcast_attention", resnetTimeScaleShift = "resnet_time_scale_shift"
        case controlnetConditioningChannelOrder = "controlnet_conditioning_channel_order"
        case conditioningEmbeddingOutChannels = "conditioning_embedding_out_channels"
        case globalPoolConditions = "global_pool_conditions"
        case additionEmbedType = "addition_embed_type", encoderHidDim = "encoder_hid_dim"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inChannels = try c.decode(Int.self, forKey: .inChannels)
        conditioningChannels = try c.decodeIfPresent(Int.self, forKey: .conditioningChannels) ?? 3
        flipSinToCos = try c.decodeIfPresent(Bool.self, forKey: .flipSinToCos) ?? true
        freqShift = try c.decodeIfPresent(Int.self, forKey: .freqShift) ?? 0
        downBlockTypes = try c.decode([String].self, forKey: .downBlockTypes)
        midBlockType = c.contains(.midBlockType)
            ? try c.decodeIfPresent(String.self, forKey: .midBlockType) : "UNetMidBlock2DCrossAttn"
        onlyCrossAttention = try c.decodeIfPresent(PerBlock<Bool>.self, forKey: .onlyCrossAttention) ?? .shared(false)
        blockOutChannels = try c.decode([Int].self, forKey: .blockOutChannels)
        layersPerBlock = try c.decode(Int.self, forKey: .layersPerBlock)
        downsamplePadding = try c.decodeIfPresent(Int.self, forKey: .downsamplePadding) ?? 1
        midBlockScaleFactor = try c.decodeIfPresent(Float.self, forKey: .midBlockScaleFactor) ?? 1
        actFn = try c.decodeIfPresent(String.self, forKey: .actFn) ?? "silu"
        normNumGroups = c.contains(.normNumGroups) ? try c.decodeIfPresent(Int.self, forKey: .normNumGroups) : 32
        normEps = try c.decodeIfPresent(Float.self, forKey: .normEps) ?? 1e-5
        crossAttentionDim = try c.decode(Int.self, forKey: .crossAttentionDim)
        transformerLayersPerBlock = try c.decodeIfPresent(PerBlock<TransformerDepth>.self, forKey: .transformerLayersPerBlock)
            ?? .shared(.uniform(1))
        attentionHeadDim = try c.decode(PerBlock<Int>.self, forKey: .attentionHeadDim)
        numAttentionHeads = try c.decodeIfPresent(PerBlock<Int>.self, forKey: .numAttentionHeads)
        useLinearProjection = try c.decodeIfPresent(Bool.self, forKey: .useLinearProjection) ?? false
        classEmbedType = try c.decodeIfPresent(String.self, forKey: .classEmbedType)
        numClassEmbeds = try c.decodeIfPresent(Int.self, forKey: .numClassEmbeds)
        upcastAttention = try c.decodeIfPresent(Bool.self, forKey: .upcastAttention) ?? false
        resnetTimeScaleShift = try c.decodeIfPresent(String.self, forKey: .resnetTimeScaleShift) ?? "default"
        controlnetConditioningChannelOrder = try c.decodeIfPresent(String.self, forKey: .controlnetConditioningChannelOrder) ?? "rgb"
        conditioningEmbeddingOutChannels = try c.decodeIfPresent([Int].self, forKey: .conditioningEmbeddingOutChannels)
            ?? [16, 32, 96, 256]
        globalPoolConditions = try c.decodeIfPresent(Bool.self, forKey: .globalPoolConditions) ?? false
        additionEmbedType = try c.decodeIfPresent(String.self, forKey: .additionEmbedType)
        encoderHidDim = try c.decodeIfPresent(Int.self, forKey: .encoderHidDim)
    }

    /// The first setting this port does not implement, if any.
    public var unsupportedFeature: String? {
        if globalPoolConditions { return "global_pool_conditions is not supported" }
        if additionEmbedType != nil || encoderHidDim != nil {
            return "addition_embed_type / encoder_hid_dim are not supported (expected null)"
        }
        if controlnetConditioningChannelOrder != "rgb" && controlnetConditioningChannelOrder != "bgr" {
            return "unknown controlnet_conditioning_channel_order \(controlnetConditioningChannelOrder) (expected rgb or bgr)"
        }
        if conditioningEmbeddingOutChannels.isEmpty { return "conditioning_embedding_out_channels must not be empty" }
        if numClassEmbeds != nil { return "num_class_embeds is not supported (the ControlNet call takes no class labels)" }
        if midBlockType == nil { return "mid_block_type null is not supported (expected UNetMidBlock2DCrossAttn)" }
        let blocks = downBlockTypes.count
        return UNetArchitecture.unsupportedFeature(
            blocks: downBlockTypes, blockOutChannels: blockOutChannels, midBlockType: midBlockType,
            actFn: actFn, normNumGroups: normNumGroups, classEmbedType: classEmbedType,
            resnetTimeScaleShift: resnetTimeScaleShift, timeEmbeddingType: "positional",
            attentionType: "default", perBlockSettings: [
                ("only_cross_attention", onlyCrossAttention.values(blocks: blocks) == nil),
                ("transformer_layers_per_block", transformerLayersPerBlock.values(blocks: blocks) == nil),
                ("attention_head_dim", attentionHeadDim.values(blocks: blocks) == nil),
                ("num_attention_heads", (numAttentionHeads ?? attentionHeadDim).values(blocks: blocks) == nil),
            ])
    }
}
