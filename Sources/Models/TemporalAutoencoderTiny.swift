// Stream-DiffVSR's temporal decoder: a TAESD-style autoencoder whose residual blocks carry a Temporal
// Processor Module (TPM) fusing features of the motion-compensated previous output (the original's
// `TemporalAutoencoderTinyBlock`: pooled current and previous features, a Conv1d over both, alpha blend).
// The original keeps the previous features inside each block (`prev_features`) and resets them after
// every decode; here they are an argument, so one loaded model serves any number of streams.

import Checkpoints
import TensorEngine

/// The activations `get_activation` offers that the port implements.
enum TinyActivation {
    case relu, silu, gelu

    init?(name: String) {
        switch name {
        case "relu": self = .relu
        case "silu", "swish": self = .silu
        case "gelu": self = .gelu
        default: return nil
        }
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .relu: return TensorEngine.relu(x)
        case .silu: return TensorEngine.silu(x)
        case .gelu: return TensorEngine.gelu(x)
        }
    }
}

/// `nn.Conv1d` (groups 1): weight [out, in, k], bias [out].
struct Conv1d {
    let weight: Tensor
    let bias: Tensor
    let padding: Int

    init(_ weights: WeightLoader, channels: Int, kernelSize: Int, padding: Int) {
        self.weight = weights("weight", shape: [channels, channels, kernelSize])
        self.bias = weights("bias", shape: [channels])
        self.padding = padding
    }

    func callAsFunction(_ x: Tensor) -> Tensor { conv1d(x, weight: weight, bias: bias, padding: padding) }
}

/// `TemporalAutoencoderTinyBlock`: `relu(conv(x) + skip(x))`, where `conv(x)` is fused with the
/// previous frame's features when they are given.
public struct TemporalAutoencoderTinyBlock {
    let convolutions: [Conv2d]
    let skip: Conv2d?
    let activation: TinyActivation
    /// Weight of the current-frame half of the temporal sequence (a 0-dim parameter in the reference).
    let alpha: Float
    let temporalIn: Conv1d
    let temporalOut: Conv1d

    /// The reference pools both feature maps with fixed 4x4 windows before the 1-D temporal convolutions.
    static let poolWindow = 4

    init(_ weights: WeightLoader, inChannels: Int, outChannels: Int, activation: TinyActivation) {
        let conv = weights["conv"]
        convolutions = [
            Conv2d(conv["0"], inChannels: inChannels, outChannels: outChannels, kernelSize: 3),
            Conv2d(conv["2"], inChannels: outChannels, outChannels: outChannels, kernelSize: 3),
            Conv2d(conv["4"], inChannels: outChannels, outChannels: outChannels, kernelSize: 3),
        ]
        skip = inChannels == outChannels ? nil
            : Conv2d(weights["skip"], inChannels: inChannels, outChannels: outChannels, kernelSize: 1, bias: false)
        self.activation = activation
        alpha = weights.scalar("alpha")
        temporalIn = Conv1d(weights["temporal_processor"]["0"], channels: outChannels, kernelSize: 3, padding: 1)
        temporalOut = Conv1d(weights["temporal_processor"]["2"], channels: outChannels, kernelSize: 3, padding: 1)
    }

    public func callAsFunction(_ x: Tensor, previousFeatures: Tensor? = nil) -> Tensor {
        var features = convolutions[2](activation(convolutions[1](activation(convolutions[0](x)))))
        if let previousFeatures, let fusion = temporalFusion(features, previous: previousFeatures) {
            features.add(fusion, scaledBy: 0.1)
        }
        // The block's closing activation is a fixed ReLU whatever `act_fn` says.
        return relu(features + (skip.map { $0(x) } ?? x))
    }

    /// `resize(alpha * A + (1 - alpha) * B)` (the block adds 0.1 times it) where [A | B] is the temporal
    /// processor's output over the pooled current and previous maps laid end to end. The 1-D kernels run
    /// across row ends and across the seam between the halves, exactly as the reference's single
    /// sequence does. nil when the map is smaller than the pooling window.
    func temporalFusion(_ current: Tensor, previous: Tensor) -> Tensor? {
        precondition(previous.shape == current.shape,
                     "temporal features \(previous.shape) do not match the block's features \(current.shape)")
        let (batch, channels, height, width) = (current.dim(0), current.dim(1), current.dim(2), current.dim(3))
        let window = Self.poolWindow
        let (pooledHeight, pooledWidth) = (height / window, width / window)
        // The reference fails on maps smaller than the pooling window; such a map simply gets no fusion.
        guard pooledHeight > 0, pooledWidth > 0 else { return nil }
        let length = pooledHeight * pooledWidth
        let sequence = concat([
            avgPool2d(current, kernel: (window, window)).reshaped([batch, channels, length]),
            avgPool2d(previous, kernel: (window, window)).reshaped([batch, channels, length]),
        ], axis: 2)
        let processed = temporalOut(activation(temporalIn(sequence)))
        let currentHalf = processed.slice(axis: 2, 0..<length)
        let previousHalf = processed.slice(axis: 2, length..<2 * length)
        let blended = (alpha * currentHalf + (1 - alpha) * previousHalf).reshaped([batch, channels, pooledHeight, pooledWidth])
        return interpolate(blended, size: (height, width), mode: .bilinear, alignCorners: false)
    }
}

/// One entry of the reference's `nn.Sequential` layer lists (indices match the state_dict keys).
enum TinyLayer {
    case convolution(Conv2d)
    case activation(TinyActivation)
    case block(TemporalAutoencoderTinyBlock)
    case upsample(factor: Int, mode: InterpolationMode)

    func callAsFunction(_ x: Tensor, previousFeatures: Tensor? = nil) -> Tensor {
        switch self {
        case .convolution(let conv): return conv(x)
        case .activation(let activation): return activation(x)
        case .block(let block): return block(x, previousFeatures: previousFeatures)
        case let .upsample(factor, mode): return interpolate(x, scaleFactor: Double(factor), mode: mode, alignCorners: false)
        }
    }

    var isBlock: Bool {
        if case .block = self { return true }
        return false
    }
}

/// `TemporalAutoencoderTiny`: encoder (`encoder.layers.N`) and temporal decoder (`decoder.layers.N`).
public struct TemporalAutoencoderTiny {
    public let config: TemporalAutoencoderTinyConfig
    /// Latents are divided by this before decoding (the pipeline does the division).
    public var scalingFactor: Float
    /// Spatial factor between image and latent, `2^(levels - 1)`.
    public var scaleFactor: Int
    let encoderLayers: [TinyLayer]
    let decoderLayers: [TinyLayer]

    public init(config: TemporalAutoencoderTinyConfig, weights: WeightLoader) {
        self.config = config
        scalingFactor = config.scalingFactor
        scaleFactor = config.scaleFactor
        guard let activation = TinyActivation(name: config.actFn) else {
            preconditionFailure("TemporalAutoencoderTiny: act_fn \"\(config.actFn)\" is not supported (validate the config first)")
        }

        let encoder = weights["encoder"]["layers"]
        var encoderLayers: [TinyLayer] = []
        var channels = config.inChannels
        for (level, (levelChannels, blocks)) in zip(config.encoderBlockOutChannels, config.numEncoderBlocks).enumerated() {
            let layerWeights = encoder[String(encoderLayers.count)]
            encoderLayers.append(.convolution(level == 0
                ? Conv2d(layerWeights, inChannels: channels, outChannels: levelChannels, kernelSize: 3)
                : Conv2d(layerWeights, inChannels: channels, outChannels: levelChannels, kernelSize: 3, stride: 2, bias: false)))
            channels = levelChannels
            for _ in 0..<blocks {
                encoderLayers.append(.block(TemporalAutoencoderTinyBlock(
                    encoder[String(encoderLayers.count)], inChannels: channels, outChannels: channels, activation: activation)))
            }
        }
        encoderLayers.append(.convolution(Conv2d(encoder[String(encoderLayers.count)], inChannels: channels,
                                                 outChannels: config.latentChannels, kernelSize: 3)))
        self.encoderLayers = encoderLayers

        let decoder = weights["decoder"]["layers"]
        channels = config.decoderBlockOutChannels.first ?? config.latentChannels
        var decoderLayers: [TinyLayer] = [
            .convolution(Conv2d(decoder["0"], inChannels: config.latentChannels, outChannels: channels, kernelSize: 3)),
            .activation(activation),
        ]
        let upsampleMode: InterpolationMode = config.upsampleFn == "bilinear" ? .bilinear : .nearest
        let levels = config.decoderBlockOutChannels.count
        for (level, (levelChannels, blocks)) in zip(config.decoderBlockOutChannels, config.numDecoderBlocks).enumerated() {
            let isLast = level == levels - 1
            for _ in 0..<blocks {
                decoderLayers.append(.block(TemporalAutoencoderTinyBlock(
                    decoder[String(decoderLayers.count)], inChannels: channels, outChannels: levelChannels, activation: activation)))
                channels = levelChannels
            }
            if !isLast { decoderLayers.append(.upsample(factor: config.upsamplingScalingFactor, mode: upsampleMode)) }
            decoderLayers.append(.convolution(Conv2d(decoder[String(decoderLayers.count)], inChannels: channels,
                                                     outChannels: isLast ? config.outChannels : levelChannels,
                                                     kernelSize: 3, bias: isLast)))
            channels = levelChannels
        }
        self.decoderLayers = decoderLayers
    }

    /// Number of TPM blocks in the decoder (= the number of temporal features it takes).
    public var decoderBlockCount: Int { decoderLayers.filter(\.isBlock).count }

    /// The encoder's forward: image in [-1, 1] mapped to [0, 1] first, then its layers -> raw latents.
    public func encode(_ image: Tensor) -> Tensor {
        encoderLayers.reduce((image + 1) / 2) { x, layer in layer(x) }
    }

    /// Temporal guidance features: the encoder's layers run on `image` as given (the reference skips
    /// the `(x+1)/2` remap on this path) and the output of every TPM block kept, in encoder order.
    public func temporalFeatures(_ image: Tensor) -> [Tensor] {
        var features: [Tensor] = []
        var x = image
        let lastBlock = encoderLayers.lastIndex(where: \.isBlock) ?? -1
        for layer in encoderLayers.prefix(lastBlock + 1) {
            x = layer(x)
            if layer.isBlock { features.append(x) }
        }
        return features
    }

    /// Decodes latents (already divided by `scalingFactor`) to an image in nominal [-1, 1], unclamped.
    /// `temporalFeatures` is `temporalFeatures(warpedPrevious)` in encoder order: decoder block j gets
    /// entry `count - 1 - j`.
    public func decode(_ latents: Tensor, temporalFeatures: [Tensor]? = nil) -> Tensor {
        if let temporalFeatures {
            precondition(temporalFeatures.count >= decoderBlockCount,
                         "decode needs \(decoderBlockCount) temporal features, got \(temporalFeatures.count)")
        }
        let reversedFeatures = temporalFeatures.map { Array($0.reversed()) }
        var x = tanh(latents / 3) * 3
        var blockIndex = 0
        for layer in decoderLayers {
            if layer.isBlock {
                x = layer(x, previousFeatures: reversedFeatures?[blockIndex])
                blockIndex += 1
            } else {
                x = layer(x)
            }
        }
        return x * 2 - 1
    }
}
