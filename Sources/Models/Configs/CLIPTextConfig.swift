// The transformers `CLIPTextConfig` (text_encoder/config.json). A full `CLIPConfig` is accepted too:
// its `text_config` section is read.

import Foundation

/// The activations transformers' `ACT2FN` maps `hidden_act` to, that CLIP checkpoints use.
public enum CLIPActivation: String, Codable, Equatable, Sendable {
    case gelu
    case quickGELU = "quick_gelu"
    case geluNew = "gelu_new"
    case geluPyTorchTanh = "gelu_pytorch_tanh"
    case geluFast = "gelu_fast"
    case relu
    case silu
    case swish
}

/// Mirrors transformers 4.37 `CLIPTextConfig`; missing keys take its defaults.
public struct CLIPTextConfig: Codable, Equatable, Sendable {
    public var vocabSize: Int = 49408
    public var hiddenSize: Int = 512
    public var intermediateSize: Int = 2048
    public var projectionDim: Int = 512
    public var numHiddenLayers: Int = 12
    public var numAttentionHeads: Int = 8
    public var maxPositionEmbeddings: Int = 77
    public var hiddenAct: CLIPActivation = .quickGELU
    public var layerNormEps: Float = 1e-5
    public var padTokenId: Int = 1
    public var bosTokenId: Int = 49406
    public var eosTokenId: Int = 49407

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case projectionDim = "projection_dim"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case maxPositionEmbeddings = "max_position_embeddings"
        case hiddenAct = "hidden_act"
        case layerNormEps = "layer_norm_eps"
        case padTokenId = "pad_token_id"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
    }

    private enum CLIPConfigKeys: String, CodingKey { case textConfig = "text_config" }

    public init() {}

    public init(from decoder: Decoder) throws {
        let outer = try decoder.container(keyedBy: CLIPConfigKeys.self)
        let c = outer.contains(.textConfig)
            ? try outer.nestedContainer(keyedBy: CodingKeys.self, forKey: .textConfig)
            : try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        let defaults = CLIPTextConfig()
        vocabSize = try value(.vocabSize, defaults.vocabSize)
        hiddenSize = try value(.hiddenSize, defaults.hiddenSize)
        intermediateSize = try value(.intermediateSize, defaults.intermediateSize)
        projectionDim = try value(.projectionDim, defaults.projectionDim)
        numHiddenLayers = try value(.numHiddenLayers, defaults.numHiddenLayers)
        numAttentionHeads = try value(.numAttentionHeads, defaults.numAttentionHeads)
        maxPositionEmbeddings = try value(.maxPositionEmbeddings, defaults.maxPositionEmbeddings)
        hiddenAct = try value(.hiddenAct, defaults.hiddenAct)
        layerNormEps = try value(.layerNormEps, defaults.layerNormEps)
        padTokenId = try value(.padTokenId, defaults.padTokenId)
        bosTokenId = try value(.bosTokenId, defaults.bosTokenId)
        eosTokenId = try value(.eosTokenId, defaults.eosTokenId)
    }

    public static func load(from url: URL) throws -> CLIPTextConfig {
        let config = try decodeConfigFile(CLIPTextConfig.self, from: url)
        guard config.numAttentionHeads > 0, config.hiddenSize % config.numAttentionHeads == 0 else {
            throw ConfigFileError(file: url.path, problem: "hidden_size \(config.hiddenSize) is not divisible by num_attention_heads \(config.numAttentionHeads)")
        }
        return config
    }
}
