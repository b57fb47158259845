// The diffusers `UNet2DConditionModel` config.json (0.27.x), and the value shapes diffusers accepts
// for per-block settings (one value for every block, or a list with one per block).

import Foundation

/// A setting given once for every block (`8`) or per block (`[5, 10, 20, 20]`).
public enum PerBlock<Value: Codable & Equatable>: Codable, Equatable {
    case shared(Value)
    case list([Value])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        // The list form is tried first so that a list of scalars is never read as one list-valued setting.
        if let values = try? container.decode([Value].self) {
            self = .list(values)
        } else {
            self = .shared(try container.decode(Value.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .shared(let value): try container.encode(value)
        case .list(let values): try container.encode(values)
        }
    }

    /// One value per block; nil when a list has the wrong length.
    public func values(blocks: Int) -> [Value]? {
        switch self {
        case .shared(let value): return Array(repeating: value, count: blocks)
        case .list(let values): return values.count == blocks ? values : nil
        }
    }
}

/// `transformer_layers_per_block` entries: one depth for every transformer of a block, or one per
/// transformer (asymmetric UNets, where the up path needs `reverse_transformer_layers_per_block`).
public enum TransformerDepth: Codable, Equatable {
    case uniform(Int)
    case perLayer([Int])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let depth = try? container.decode(Int.self) {
            self = .uniform(depth)
        } else {
            self = .perLayer(try container.decode([Int].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .uniform(let depth): try container.encode(depth)
        case .perLayer(let depths): try container.encode(depths)
        }
    }

    func depths(layers: Int) -> [Int] {
        switch self {
        case .uniform(let depth): return Array(repeating: depth, count: layers)
        case .perLayer(let depths): return depths
        }
    }
}

/// Mirrors `UNet2DConditionModel`'s config. Keys the port does not implement must hold their inert
/// default (checked by `load`); keys missing from older configs take diffusers' defaults.
public struct UNet2DConditionConfig: Codable, Equatable, CheckedConfigFile {
    public var inChannels: Int
    public var outChannels: Int
    public var centerInputSample: Bool
    public var flipSinToCos: Bool
    public var freqShift: Int
    public var downBlockTypes: [String]
    public var midBlockType: String?
    public var upBlockTypes: [String]
    public var onlyCrossAttention: PerBlock<Bool>
    public var blockOutChannels: [Int]
    public var layersPerBlock: PerBlock<Int>
    public var downsamplePadding: Int
    public var midBlockScaleFactor: Float
    public var actFn: String
    public var normNumGroups: Int?
    public var normEps: Float
    public var crossAttentionDim: PerBlock<Int>
    public var transformerLayersPerBlock: PerBlock<TransformerDepth>
    public var reverseTransformerLayersPerBlock: [TransformerDepth]?
    public var attentionHeadDim: PerBlock<Int>
    public var numAttentionHeads: PerBlock<Int>?
    public var dualCrossAttention: Bool
    public var useLinearProjection: Bool
    public var classEmbedType: String?
    public var numClassEmbeds: Int?
    public var upcastAttention: Bool
    public var resnetTimeScaleShift: String
    public var timeEmbeddingType: String
    public var timeEmbeddingDim: Int?
    public var timeEmbeddingActFn: String?
    public var timestepPostAct: String?
    public var timeCondProjDim: Int?
    public var convInKernel: Int
    public var convOutKernel: Int
    public var additionEmbedType: String?
    public var encoderHidDim: Int?
    public var attentionType: String
    public var classEmbeddingsConcat: Bool
    public var crossAttentionNorm: String?

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels"
        case centerInputSample = "center_input_sample", flipSinToCos = "flip_sin_to_cos", freqShift = "freq_shift"
        case downBlockTypes = "down_block_types", midBlockType = "mid_block_type", upBlockTypes = "up_block_types"
        case onlyCrossAttention = "only_cross_attention", blockOutChannels = "block_out_channels"
        case layersPerBlock = "layers_per_block", downsamplePadding = "downsample_padding"
        case midBlockScaleFactor = "mid_block_scale_factor", actFn = "act_fn"
        case normNumGroups = "norm_num_groups", normEps = "norm_eps", crossAttentionDim = "cross_attention_dim"
        case transformerLayersPerBlock = "transformer_layers_per_block"
        case reverseTransformerLayersPerBlock = "reverse_transformer_layers_per_block"
        case attentionHeadDim = "attention_head_dim", numAttentionHeads = "num_attention_heads"
        case dualCrossAttention = "dual_cross_attention", useLinearProjection = "use_linear_projection"
        case classEmbedType = "class_embed_type", numClassEmbeds = "num_class_embeds"
        case upcastAttention = "upcast_attention", resnetTimeScaleShift = "resnet_time_scale_shift"
        case timeEmbeddingType = "time_embedding_type", timeEmbeddingDim = "time_embedding_dim"
        case timeEmbeddingActFn = "time_embedding_act_fn", timestepPostAct = "timestep_post_act"
        case timeCondProjDim = "time_cond_proj_dim", convInKernel = "conv_in_kernel", convOutKernel = "conv_out_kernel"
        case additionEmbedType = "addition_embed_type", encoderHidDim = "encoder_hid_dim"
        case attentionType = "attention_type", classEmbeddingsConcat = "class_embeddings_concat"
        case crossAttentionNorm = "cross_attention_norm"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inChannels = try c.decode(Int.self, forKey: .inChannels)
        outChannels = try c.decode(Int.self, forKey: .outChannels)
        centerInputSample = try c.decodeIfPresent(Bool.self, forKey: .centerInputSample) ?? false
        flipSinToCos = try c.decodeIfPresent(Bool.self, forKey: .flipSinToCos) ?? true
        freqShift = try c.decodeIfPresent(Int.self, forKey: .freqShift) ?? 0
        downBlockTypes = try c.decode([String].self, forKey: .downBlockTypes)
        midBlockType = c.contains(.midBlockType)
            ? try c.decodeIfPresent(String.self, forKey: .midBlockType) : "UNetMidBlock2DCrossAttn"
        upBlockTypes = try c.decode([String].self, forKey: .upBlockTypes)
        onlyCrossAttention = try c.decodeIfPresent(PerBlock<Bool>.self, forKey: .onlyCrossAttention) ?? .shared(false)
        blockOutChannels = try c.decode([Int].self, forKey: .blockOutChannels)
        layersPerBlock = try c.decode(PerBlock<Int>.self, forKey: .layersPerBlock)
        downsamplePadding = try c.decodeIfPresent(Int.self, forKey: .downsamplePadding) ?? 1
        midBlockScaleFactor = try c.decodeIfPresent(Float.self, forKey: .midBlockScaleFactor) ?? 1
        actFn = try c.decodeIfPresent(String.self, forKey: .actFn) ?? "silu"
        normNumGroups = c.contains(.normNumGroups) ? try c.decodeIfPresent(Int.self, forKey: .normNumGroups) : 32
        normEps = try c.decodeIfPresent(Float.self, forKey: .normEps) ?? 1e-5
        crossAttentionDim = try c.decode(PerBlock<Int>.self, forKey: .crossAttentionDim)
        transformerLayersPerBlock = try c.decodeIfPresent(PerBlock<TransformerDepth>.self, forKey: .transformerLayersPerBlock)
            ?? .shared(.uniform(1))
        reverseTransformerLayersPerBlock = try c.decodeIfPresent([TransformerDepth].self, forKey: .reverseTransformerLayersPerBlock)
        attentionHeadDim = try c.decode(PerBlock<Int>.self, forKey: .attentionHeadDim)
        numAttentionHeads = try c.decodeIfPresent(PerBlock<Int>.self, forKey: .numAttentionHeads)
        dualCrossAttention = try c.decodeIfPresent(Bool.self, forKey: .dualCrossAttention) ?? false
        useLinearProjection = try c.decodeIfPresent(Bool.self, forKey: .useLinearProjection) ?? false
        classEmbedType = try c.decodeIfPresent(String.self, forKey: .classEmbedType)
        numClassEmbeds = try c.decodeIfPresent(Int.self, forKey: .numClassEmbeds)
        upcastAttention = try c.decodeIfPresent(Bool.self, forKey: .upcastAttention) ?? false
        resnetTimeScaleShift = try c.decodeIfPresent(String.self, forKey: .resnetTimeScaleShift) ?? "default"
        timeEmbeddingType = try c.decodeIfPresent(String.self, forKey: .timeEmbeddingType) ?? "positional"
        timeEmbeddingDim = try c.decodeIfPresent(Int.self, forKey: .timeEmbeddingDim)
        timeEmbeddingActFn = try c.decodeIfPresent(String.self, forKey: .timeEmbeddingActFn)
        timestepPostAct = try c.decodeIfPresent(String.self, forKey: .timestepPostAct)
        timeCondProjDim = try c.decodeIfPresent(Int.self, forKey: .timeCondProjDim)
        convInKernel = try c.decodeIfPresent(Int.self, forKey: .convInKernel) ?? 3
        convOutKernel = try c.decodeIfPresent(Int.self, forKey: .convOutKernel) ?? 3
        additionEmbedType = try c.decodeIfPresent(String.self, forKey: .additionEmbedType)
        encoderHidDim = try c.decodeIfPresent(Int.self, forKey: .encoderHidDim)
        attentionType = try c.decodeIfPresent(String.self, forKey: .attentionType) ?? "default"
        classEmbeddingsConcat = try c.decodeIfPresent(Bool.self, forKey: .classEmbeddingsConcat) ?? false
        crossAttentionNorm = try c.decodeIfPresent(String.self, forKey: .crossAttentionNorm)
    }

    /// The first setting this port does not implement (or that diffusers itself rejects), if any.
    public var unsupportedFeature: String? {
        if numAttentionHeads != nil {
            return "num_attention_heads must be null for UNet2DConditionModel (diffusers reads the head count from attention_head_dim)"
        }
        if upBlockTypes.count != downBlockTypes.count {
            return "expected as many up_block_types as down_block_types (\(downBlockTypes.count)), found \(upBlockTypes.count)"
        }
        if let unknown = upBlockTypes.first(where: { UpBlockKind(rawValue: $0) == nil }) {
            return "unsupported up block type \(unknown) (expected UpBlock2D or CrossAttnUpBlock2D)"
        }
        if dualCrossAttention { return "dual_cross_attention is not supported" }
        if classEmbeddingsConcat { return "class_embeddings_concat is not supported" }
        if timeEmbeddingActFn != nil || timestepPostAct != nil || timeCondProjDim != nil {
            return "time_embedding_act_fn / timestep_post_act / time_cond_proj_dim are not supported (expected null)"
        }
        if additionEmbedType != nil || encoderHidDim != nil {
            return "addition_embed_type / encoder_hid_dim are not supported (expected null)"
        }
        if crossAttentionNorm != nil { return "cross_attention_norm is not supported (expected null)" }
        if reverseTransformerLayersPerBlock == nil, case .list(let depths) = transformerLayersPerBlock,
           depths.contains(where: { if case .perLayer = $0 { return true } else { return false } }) {
            return "per-layer transformer_layers_per_block needs reverse_transformer_layers_per_block"
        }
        return UNetArchitecture.unsupportedFeature(
            blocks: downBlockTypes, blockOutChannels: blockOutChannels, midBlockType: midBlockType,
            actFn: actFn, normNumGroups: normNumGroups, classEmbedType: classEmbedType,
            resnetTimeScaleShift: resnetTimeScaleShift, timeEmbeddingType: timeEmbeddingType,
            attentionType: attentionType, perBlockSettings: [
                ("only_cross_attention", onlyCrossAttention.values(blocks: downBlockTypes.count) == nil),
                ("layers_per_block", layersPerBlock.values(blocks: downBlockTypes.count) == nil),
                ("cross_attention_dim", crossAttentionDim.values(blocks: downBlockTypes.count) == nil),
                ("transformer_layers_per_block", transformerLayersPerBlock.values(blocks: downBlockTypes.count) == nil),
                ("attention_head_dim", attentionHeadDim.values(blocks: downBlockTypes.count) == nil),
            ])
    }
}
