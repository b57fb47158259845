// transformers' `CLIPTextModel` up to `last_hidden_state`: token + position embeddings, pre-LayerNorm
// transformer layers with causal self-attention, final LayerNorm. The pooled output and the
// projection are not used by the pipeline (it cross-attends to all positions).

import Checkpoints
import TensorEngine

extension CLIPActivation {
    func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .gelu: return TensorEngine.gelu(x)
        case .quickGELU: return TensorEngine.quickGELU(x)
        case .geluNew, .geluPyTorchTanh, .geluFast: return TensorEngine.gelu(x, approximation: .tanh)
        case .relu: return TensorEngine.relu(x)
        case .silu, .swish: return TensorEngine.silu(x)
        }
    }
}

/// `CLIPEncoderLayer`: `x + attn(ln1(x))`, then `x + mlp(ln2(x))`.
struct CLIPEncoderLayer {
    let layerNorm1: LayerNorm
    let queryProjection: Linear
    let keyProjection: Linear
    let valueProjection: Linear
    let outputProjection: Linear
    let layerNorm2: LayerNorm
    let fc1: Linear
    let fc2: Linear
    let heads: Int
    let activation: CLIPActivation

    init(_ weights: WeightLoader, config: CLIPTextConfig) {
        let hidden = config.hiddenSize
        layerNorm1 = LayerNorm(weights["layer_norm1"], channels: hidden, epsilon: config.layerNormEps)
        let attention = weights["self_attn"]
        queryProjection = Linear(attention["q_proj"], inFeatures: hidden, outFeatures: hidden)
        keyProjection = Linear(attention["k_proj"], inFeatures: hidden, outFeatures: hidden)
        valueProjection = Linear(attention["v_proj"], inFeatures: hidden, outFeatures: hidden)
        outputProjection = Linear(attention["out_proj"], inFeatures: hidden, outFeatures: hidden)
        layerNorm2 = LayerNorm(weights["layer_norm2"], channels: hidden, epsilon: config.layerNormEps)
        fc1 = Linear(weights["mlp"]["fc1"], inFeatures: hidden, outFeatures: config.intermediateSize)
        fc2 = Linear(weights["mlp"]["fc2"], inFeatures: config.intermediateSize, outFeatures: hidden)
        heads = config.numAttentionHeads
        activation = config.hiddenAct
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let normed = layerNorm1(x)
        let attended = multiHeadAttention(query: queryProjection(normed), key: keyProjection(normed),
                                          value: valueProjection(normed), heads: heads, causal: true)
        let h = x + outputProjection(attended)
        return h + fc2(activation(fc1(layerNorm2(h))))
    }
}

/// `CLIPTextModel` (keys under `text_model.`), returning the last hidden state.
public struct CLIPTextEncoder {
    public let config: CLIPTextConfig
    let tokenEmbedding: Tensor
    let positionEmbedding: Tensor
    let layers: [CLIPEncoderLayer]
    let finalLayerNorm: LayerNorm

    /// Keys some checkpoints carry that hold no parameters (older transformers saved the
    /// `position_ids` buffer); pass this to `WeightLoader.finish(ignoring:)`.
    public static func isIgnorableKey(_ key: String) -> Bool { key.hasSuffix("embeddings.position_ids") }

    /// `weights` is the loader of the whole CLIPTextModel state_dict (keys start with `text_model.`).
    public init(config: CLIPTextConfig, weights: WeightLoader) {
        self.config = config
        let model = weights["text_model"]
        tokenEmbedding = model["embeddings"]["token_embedding"]("weight", shape: [config.vocabSize, config.hiddenSize])
        positionEmbedding = model["embeddings"]["position_embedding"]("weight", shape: [config.maxPositionEmbeddings, config.hiddenSize])
        layers = (0..<config.numHiddenLayers).map { CLIPEncoderLayer(model["encoder"]["layers"][String($0)], config: config) }
        finalLayerNorm = LayerNorm(model["final_layer_norm"], channels: config.hiddenSize, epsilon: config.layerNormEps)
    }

    /// `last_hidden_state` [1, L, hidden] for one sequence of token ids (all positions, no padding mask).
    public func callAsFunction(_ tokenIDs: [Int]) -> Tensor {
        precondition(tokenIDs.count <= config.maxPositionEmbeddings,
                     "CLIP text encoder: \(tokenIDs.count) tokens exceed max_position_embeddings \(config.maxPositionEmbeddings)")
        precondition(tokenIDs.allSatisfy { $0 >= 0 && $0 < config.vocabSize },
                     "CLIP text encoder: a token id is outside the vocabulary of \(config.vocabSize)")
        let tokens = embedding(tokenEmbedding, indices: tokenIDs)
        let positions = positionEmbedding.slice(axis: 0, 0..<tokenIDs.count)
        let embeddings = (tokens + positions).reshaped([1, tokenIDs.count, config.hiddenSize])
        return finalLayerNorm(layers.reduce(embeddings) { x, layer in layer(x) })
    }
}
