// The building blocks of diffusers' UNet2DConditionModel / ControlNetModel (unet_2d_blocks.py,
// resnet.py, downsampling.py, upsampling.py): ResnetBlock2D, Downsample2D, Upsample2D, the
// DownBlock2D / CrossAttnDownBlock2D, UNetMidBlock2DCrossAttn and UpBlock2D / CrossAttnUpBlock2D.

import Checkpoints
import TensorEngine

enum DownBlockKind: String {
    case plain = "DownBlock2D"
    case crossAttention = "CrossAttnDownBlock2D"
}

enum UpBlockKind: String {
    case plain = "UpBlock2D"
    case crossAttention = "CrossAttnUpBlock2D"
}

/// Settings shared by every transformer of one block.
struct TransformerSettings {
    var heads: Int
    var contextChannels: Int
    var onlyCrossAttention: Bool
    var linearProjection: Bool
    var groups: Int
}

/// `ResnetBlock2D`: GroupNorm, SiLU, conv, time-embedding injection, GroupNorm, SiLU, conv, plus a
/// (1x1-projected when the width changes) shortcut, divided by `output_scale_factor`.
struct ResnetBlock2D {
    let norm1: GroupNorm
    let conv1: Conv2d
    let timeEmbeddingProjection: Linear
    let norm2: GroupNorm
    let conv2: Conv2d
    let shortcut: Conv2d?
    let outputScaleFactor: Float
    /// `resnet_time_scale_shift: "scale_shift"`: the time embedding scales and shifts the second norm's
    /// output instead of being added before it.
    let timeScaleShift: Bool

    init(_ weights: WeightLoader, inChannels: Int, outChannels: Int, timeEmbeddingChannels: Int, groups: Int,
         epsilon: Float, outputScaleFactor: Float = 1, timeScaleShift: Bool) {
        norm1 = GroupNorm(weights["norm1"], groups: groups, channels: inChannels, epsilon: epsilon)
        conv1 = Conv2d(weights["conv1"], inChannels: inChannels, outChannels: outChannels, kernelSize: 3)
        timeEmbeddingProjection = Linear(weights["time_emb_proj"], inFeatures: timeEmbeddingChannels,
                                         outFeatures: timeScaleShift ? 2 * outChannels : outChannels)
        norm2 = GroupNorm(weights["norm2"], groups: groups, channels: outChannels, epsilon: epsilon)
        conv2 = Conv2d(weights["conv2"], inChannels: outChannels, outChannels: outChannels, kernelSize: 3)
        shortcut = inChannels == outChannels
            ? nil : Conv2d(weights["conv_shortcut"], inChannels: inChannels, outChannels: outChannels, kernelSize: 1)
        self.outputScaleFactor = outputScaleFactor
        self.timeScaleShift = timeScaleShift
    }

    /// `activatedEmbedding`: silu(time embedding) [B, T] (every resnet applies the same SiLU first,
    /// so the caller computes it once).
    func callAsFunction(_ x: Tensor, activatedEmbedding: Tensor) -> Tensor {
        var hidden = conv1(silu(norm1(x)))
        let time = timeEmbeddingProjection(activatedEmbedding)
        let batch = time.dim(0)
        if timeScaleShift {
            let channels = time.dim(1) / 2
            let scale = time.slice(axis: 1, 0..<channels).reshaped([batch, channels, 1, 1])
            let shift = time.slice(axis: 1, channels..<(2 * channels)).reshaped([batch, channels, 1, 1])
            hidden = norm2(hidden) * (scale + 1) + shift
        } else {
            hidden = norm2(hidden + time.reshaped([batch, time.dim(1), 1, 1]))
        }
        hidden = conv2(silu(hidden))
        var output = shortcut.map { $0(x) } ?? x
        output += hidden
        return outputScaleFactor == 1 ? output : output / outputScaleFactor
    }
}

/// `Downsample2D` with a conv: 3x3 stride 2. Padding 0 means diffusers pads one zero row/column at
/// the bottom/right first (asymmetric), which `conv2d`'s symmetric padding cannot express.
struct Downsample2D {
    let conv: Conv2d
    let padding: Int

    init(_ weights: WeightLoader, channels: Int, padding: Int) {
        conv = Conv2d(weights["conv"], inChannels: channels, outChannels: channels, kernelSize: 3, stride: 2, padding: padding)
        self.padding = padding
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        padding == 0 ? conv(x.padded(bottom: 1, right: 1)) : conv(x)
    }
}

/// `Upsample2D` with a conv: nearest-neighbour resize (x2, or to the skip connection's size when the
/// latent is not a multiple of the total downsampling), then a 3x3 conv.
struct Upsample2D {
    let conv: Conv2d

    init(_ weights: WeightLoader, channels: Int) {
        conv = Conv2d(weights["conv"], inChannels: channels, outChannels: channels, kernelSize: 3)
    }

    func callAsFunction(_ x: Tensor, size: (Int, Int)?) -> Tensor {
        conv(interpolate(x, size: size ?? (2 * x.dim(2), 2 * x.dim(3)), mode: .nearest))
    }
}

/// `DownBlock2D` (no `attentions`) or `CrossAttnDownBlock2D` (a transformer after each resnet).
struct DownBlock {
    let resnets: [ResnetBlock2D]
    let attentions: [Transformer2DModel]
    let downsampler: Downsample2D?

    init(_ weights: WeightLoader, kind: DownBlockKind, inChannels: Int, outChannels: Int, layers: Int,
         timeEmbeddingChannels: Int, groups: Int, epsilon: Float, timeScaleShift: Bool,
         transformer: TransformerSettings, transformerDepths: [Int], downsample: Bool, downsamplePadding: Int) {
        resnets = (0..<layers).map {
            ResnetBlock2D(weights["resnets.\($0)"], inChannels: $0 == 0 ? inChannels : outChannels, outChannels: outChannels,
                          timeEmbeddingChannels: timeEmbeddingChannels, groups: groups, epsilon: epsilon,
                          timeScaleShift: timeScaleShift)
        }
        attentions = kind == .plain ? [] : (0..<layers).map {
            Transformer2DModel(weights["attentions.\($0)"], channels: outChannels, heads: transformer.heads,
                               depth: transformerDepths[$0], contextChannels: transformer.contextChannels,
                               groups: transformer.groups, linearProjection: transformer.linearProjection,
                               onlyCrossAttention: transformer.onlyCrossAttention)
        }
        downsampler = downsample ? Downsample2D(weights["downsamplers.0"], channels: outChannels, padding: downsamplePadding) : nil
    }

    /// The block output and its skip connections (each layer's output, then the downsampled map).
    func callAsFunction(_ x: Tensor, activatedEmbedding: Tensor, context: Tensor) -> (Tensor, [Tensor]) {
        var hidden = x
        var skips: [Tensor] = []
        for (index, resnet) in resnets.enumerated() {
            hidden = resnet(hidden, activatedEmbedding: activatedEmbedding)
            if !attentions.isEmpty { hidden = attentions[index](hidden, context: context) }
            skips.append(hidden)
        }
        if let downsampler {
            hidden = downsampler(hidden)
            skips.append(hidden)
        }
        return (hidden, skips)
    }
}

/// `UNetMidBlock2DCrossAttn` with one layer: resnet, transformer (self then cross attention), resnet.
struct MidBlock {
    let resnets: [ResnetBlock2D]
    let attention: Transformer2DModel

    init(_ weights: WeightLoader, channels: Int, timeEmbeddingChannels: Int, groups: Int, epsilon: Float,
         outputScaleFactor: Float, timeScaleShift: Bool, transformer: TransformerSettings, transformerDepth: Int) {
        resnets = (0..<2).map {
            ResnetBlock2D(weights["resnets.\($0)"], inChannels: channels, outChannels: channels,
                          timeEmbeddingChannels: timeEmbeddingChannels, groups: groups, epsilon: epsilon,
                          outputScaleFactor: outputScaleFactor, timeScaleShift: timeScaleShift)
        }
        attention = Transformer2DModel(weights["attentions.0"], channels: channels, heads: transformer.heads,
                                       depth: transformerDepth, contextChannels: transformer.contextChannels,
                                       groups: transformer.groups, linearProjection: transformer.linearProjection,
                                       onlyCrossAttention: false)
    }

    func callAsFunction(_ x: Tensor, activatedEmbedding: Tensor, context: Tensor) -> Tensor {
        var hidden = resnets[0](x, activatedEmbedding: activatedEmbedding)
        hidden = attention(hidden, context: context)
        return resnets[1](hidden, activatedEmbedding: activatedEmbedding)
    }
}

/// `UpBlock2D` / `CrossAttnUpBlock2D`: each resnet takes the running map concatenated with the most
/// recent unused skip connection.
struct UpBlock {
    let resnets: [ResnetBlock2D]
    let attentions: [Transformer2DModel]
    let upsampler: Upsample2D?

    /// `skipChannels[i]`: channels of the skip that resnet i consumes.
    init(_ weights: WeightLoader, kind: UpBlockKind, previousChannels: Int, outChannels: Int, skipChannels: [Int],
         timeEmbeddingChannels: Int, groups: Int, epsilon: Float, timeScaleShift: Bool,
         transformer: TransformerSettings, transformerDepths: [Int], upsample: Bool) {
        resnets = skipChannels.enumerated().map { index, skip in
            ResnetBlock2D(weights["resnets.\(index)"], inChannels: (index == 0 ? previousChannels : outChannels) + skip,
                          outChannels: outChannels, timeEmbeddingChannels: timeEmbeddingChannels, groups: groups,
                          epsilon: epsilon, timeScaleShift: timeScaleShift)
        }
        attentions = kind == .plain ? [] : skipChannels.indices.map {
            Transformer2DModel(weights["attentions.\($0)"], channels: outChannels, heads: transformer.heads,
                               depth: transformerDepths[$0], contextChannels: transformer.contextChannels,
                               groups: transformer.groups, linearProjection: transformer.linearProjection,
                               onlyCrossAttention: transformer.onlyCrossAttention)
        }
        upsampler = upsample ? Upsample2D(weights["upsamplers.0"], channels: outChannels) : nil
    }

    /// `skips` in the order they were produced (the last one is consumed first).
    func callAsFunction(_ x: Tensor, skips: [Tensor], activatedEmbedding: Tensor, context: Tensor,
                        upsampleSize: (Int, Int)?) -> Tensor {
        var hidden = x
        for (index, resnet) in resnets.enumerated() {
            hidden = resnet(concat([hidden, skips[skips.count - 1 - index]], axis: 1), activatedEmbedding: activatedEmbedding)
            if !attentions.isEmpty { hidden = attentions[index](hidden, context: context) }
        }
        if let upsampler { hidden = upsampler(hidden, size: upsampleSize) }
        return hidden
    }
}
