// diffusers' spatial transformer (`Transformer2DModel` with continuous input) and its parts:
// `BasicTransformerBlock` (layer_norm variant), `Attention` (no q/k/v bias, biased output) and the
// GEGLU `FeedForward`. Sequences are kept as [B, L, C] throughout.

import Checkpoints
import Foundation
import TensorEngine

/// diffusers `Attention` with the default processor: softmax(q kᵀ / sqrt(head size)) v, then `to_out.0`.
/// `upcast_attention` changes nothing here because every computation is already float32.
struct Attention {
    let heads: Int
    let toQuery: Linear
    let toKey: Linear
    let toValue: Linear
    let toOut: Linear
    let contextProjections = ContextProjectionCache()

    init(_ weights: WeightLoader, queryChannels: Int, contextChannels: Int?, heads: Int, headSize: Int) {
        let inner = heads * headSize
        self.heads = heads
        toQuery = Linear(weights["to_q"], inFeatures: queryChannels, outFeatures: inner, bias: false)
        toKey = Linear(weights["to_k"], inFeatures: contextChannels ?? queryChannels, outFeatures: inner, bias: false)
        toValue = Linear(weights["to_v"], inFeatures: contextChannels ?? queryChannels, outFeatures: inner, bias: false)
        toOut = Linear(weights["to_out.0"], inFeatures: inner, outFeatures: queryChannels)
    }

    /// `context` nil: self-attention.
    func callAsFunction(_ x: Tensor, context: Tensor? = nil) -> Tensor {
        let (key, value) = context.map { contextProjections.projections(of: $0) { (toKey($0), toValue($0)) } }
            ?? (toKey(x), toValue(x))
        return toOut(multiHeadAttention(query: toQuery(x), key: key, value: value, heads: heads))
    }
}

/// The key and value projections of the last context seen. The context is the prompt's text states,
/// the same tensor at every denoising step of every frame, so they are computed once per prompt
/// instead of per call. Matched by storage identity; the entry keeps the context alive, so that
/// identity cannot be reused by another tensor while it is cached.
final class ContextProjectionCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entry: (context: Tensor, key: Tensor, value: Tensor)?

    func projections(of context: Tensor, _ compute: (Tensor) -> (Tensor, Tensor)) -> (Tensor, Tensor) {
        lock.lock()
        defer { lock.unlock() }
        if let entry, entry.context.sharesStorage(with: context), entry.context.shape == context.shape {
            return (entry.key, entry.value)
        }
        let (key, value) = compute(context)
        entry = (context, key, value)
        return (key, value)
    }
}

/// `FeedForward` with `activation_fn="geglu"`: proj to 2 x inner, value * gelu(gate), project back.
struct GEGLUFeedForward {
    let projection: Linear
    let output: Linear

    init(_ weights: WeightLoader, channels: Int, multiplier: Int = 4) {
        let inner = channels * multiplier
        projection = Linear(weights["net.0.proj"], inFeatures: channels, outFeatures: inner * 2)
        output = Linear(weights["net.2"], inFeatures: inner, outFeatures: channels)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let projected = projection(x)
        let inner = projected.dim(-1) / 2
        let value = projected.slice(axis: -1, 0..<inner)
        let gate = projected.slice(axis: -1, inner..<(2 * inner))
        return output(value * gelu(gate))
    }
}

/// `BasicTransformerBlock` (norm_type layer_norm): attn1, attn2 (cross), GEGLU feed-forward, each
/// pre-normed and residual. With `only_cross_attention` attn1 also attends to the context, so the
/// block runs two cross-attentions and no self-attention.
struct BasicTransformerBlock {
    let norm1: LayerNorm
    let attention1: Attention
    let norm2: LayerNorm
    let attention2: Attention
    let norm3: LayerNorm
    let feedForward: GEGLUFeedForward
    let onlyCrossAttention: Bool

    init(_ weights: WeightLoader, channels: Int, heads: Int, headSize: Int, contextChannels: Int,
         onlyCrossAttention: Bool) {
        self.onlyCrossAttention = onlyCrossAttention
        norm1 = LayerNorm(weights["norm1"], channels: channels)
        attention1 = Attention(weights["attn1"], queryChannels: channels,
                               contextChannels: onlyCrossAttention ? contextChannels : nil, heads: heads, headSize: headSize)
        norm2 = LayerNorm(weights["norm2"], channels: channels)
        attention2 = Attention(weights["attn2"], queryChannels: channels, contextChannels: contextChannels,
                               heads: heads, headSize: headSize)
        norm3 = LayerNorm(weights["norm3"], channels: channels)
        feedForward = GEGLUFeedForward(weights["ff"], channels: channels)
    }

    func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        var hidden = x
        hidden = attention1(norm1(hidden), context: onlyCrossAttention ? context : nil) + hidden
        hidden = attention2(norm2(hidden), context: context) + hidden
        hidden = feedForward(norm3(hidden)) + hidden
        return hidden
    }
}

/// `Transformer2DModel` on a feature map: GroupNorm (eps 1e-6), project in (1x1 conv, or linear on
/// the token sequence when `use_linear_projection`), transformer blocks, project out, add the input.
struct Transformer2DModel {
    let norm: GroupNorm
    let projectionIn: Projection
    let blocks: [BasicTransformerBlock]
    let projectionOut: Projection

    /// The two projection forms differ in where the NCHW -> tokens reshape happens, which changes the key shapes.
    enum Projection {
        case linear(Linear)
        case convolution(Conv2d)
    }

    init(_ weights: WeightLoader, channels: Int, heads: Int, depth: Int, contextChannels: Int, groups: Int,
         linearProjection: Bool, onlyCrossAttention: Bool) {
        let headSize = channels / heads
        let inner = heads * headSize
        norm = GroupNorm(weights["norm"], groups: groups, channels: channels, epsilon: 1e-6)
        if linearProjection {
            projectionIn = .linear(Linear(weights["proj_in"], inFeatures: channels, outFeatures: inner))
            projectionOut = .linear(Linear(weights["proj_out"], inFeatures: inner, outFeatures: channels))
        } else {
            projectionIn = .convolution(Conv2d(weights["proj_in"], inChannels: channels, outChannels: inner, kernelSize: 1))
            projectionOut = .convolution(Conv2d(weights["proj_out"], inChannels: inner, outChannels: channels, kernelSize: 1))
        }
        blocks = (0..<depth).map {
            BasicTransformerBlock(weights["transformer_blocks.\($0)"], channels: inner, heads: heads, headSize: headSize,
                                  contextChannels: contextChannels, onlyCrossAttention: onlyCrossAttention)
        }
    }

    func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
        let (batch, height, width) = (x.dim(0), x.dim(2), x.dim(3))
        var tokens: Tensor
        switch projectionIn {
        case .linear(let projection):
            tokens = projection(toTokens(norm(x)))
        case .convolution(let projection):
            tokens = toTokens(projection(norm(x)))
        }
        for block in blocks { tokens = block(tokens, context: context) }
        var output: Tensor
        switch projectionOut {
        case .linear(let projection):
            output = toFeatureMap(projection(tokens), batch: batch, height: height, width: width)
        case .convolution(let projection):
            output = projection(toFeatureMap(tokens, batch: batch, height: height, width: width))
        }
        output += x
        return output
    }

    /// [B, C, H, W] -> [B, H*W, C]
    private func toTokens(_ map: Tensor) -> Tensor {
        map.reshaped([map.dim(0), map.dim(1), map.dim(2) * map.dim(3)]).permuted([0, 2, 1])
    }

    /// [B, H*W, C] -> [B, C, H, W]
    private func toFeatureMap(_ tokens: Tensor, batch: Int, height: Int, width: Int) -> Tensor {
        tokens.permuted([0, 2, 1]).reshaped([batch, tokens.dim(2), height, width])
    }
}
