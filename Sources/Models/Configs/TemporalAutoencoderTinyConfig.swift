// The `TemporalAutoencoderTiny` config.json of Stream-DiffVSR's `vae/` folder (diffusers style; the
// original's class is AutoencoderTiny with temporal blocks, so the keys are AutoencoderTiny's).

import Foundation

/// Mirrors the original's `TemporalAutoencoderTiny.__init__` arguments; missing keys take its defaults.
public struct TemporalAutoencoderTinyConfig: Codable, Equatable, Sendable {
    public var inChannels: Int = 3
    public var outChannels: Int = 3
    public var encoderBlockOutChannels: [Int] = [64, 64, 64, 64]
    public var decoderBlockOutChannels: [Int] = [64, 64, 64, 64]
    public var actFn: String = "relu"
    public var upsampleFn: String = "nearest"
    public var latentChannels: Int = 4
    public var upsamplingScalingFactor: Int = 2
    public var numEncoderBlocks: [Int] = [1, 3, 3, 3]
    public var numDecoderBlocks: [Int] = [3, 3, 3, 1]
    public var latentMagnitude: Float = 3
    public var latentShift: Float = 0.5
    public var forceUpcast: Bool = false
    public var scalingFactor: Float = 1
    public var shiftFactor: Float = 0

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels"
        case outChannels = "out_channels"
        case encoderBlockOutChannels = "encoder_block_out_channels"
        case decoderBlockOutChannels = "decoder_block_out_channels"
        case actFn = "act_fn"
        case upsampleFn = "upsample_fn"
        case latentChannels = "latent_channels"
        case upsamplingScalingFactor = "upsampling_scaling_factor"
        case numEncoderBlocks = "num_encoder_blocks"
        case numDecoderBlocks = "num_decoder_blocks"
        case latentMagnitude = "latent_magnitude"
        case latentShift = "latent_shift"
        case forceUpcast = "force_upcast"
        case scalingFactor = "scaling_factor"
        case shiftFactor = "shift_factor"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        let defaults = TemporalAutoencoderTinyConfig()
        inChannels = try value(.inChannels, defaults.inChannels)
        outChannels = try value(.outChannels, defaults.outChannels)
        encoderBlockOutChannels = try value(.encoderBlockOutChannels, defaults.encoderBlockOutChannels)
        decoderBlockOutChannels = try value(.decoderBlockOutChannels, defaults.decoderBlockOutChannels)
        actFn = try value(.actFn, defaults.actFn)
        upsampleFn = try value(.upsampleFn, defaults.upsampleFn)
        latentChannels = try value(.latentChannels, defaults.latentChannels)
        upsamplingScalingFactor = try value(.upsamplingScalingFactor, defaults.upsamplingScalingFactor)
        numEncoderBlocks = try value(.numEncoderBlocks, defaults.numEncoderBlocks)
        numDecoderBlocks = try value(.numDecoderBlocks, defaults.numDecoderBlocks)
        latentMagnitude = try value(.latentMagnitude, defaults.latentMagnitude)
        latentShift = try value(.latentShift, defaults.latentShift)
        forceUpcast = try value(.forceUpcast, defaults.forceUpcast)
        scalingFactor = try value(.scalingFactor, defaults.scalingFactor)
        shiftFactor = try value(.shiftFactor, defaults.shiftFactor)
    }

    /// Spatial factor between image and latent: `2^(levels - 1)` (the pipeline's `vae_scale_factor`).
    public var scaleFactor: Int { 1 << max(decoderBlockOutChannels.count - 1, 0) }

    public static func load(from url: URL) throws -> TemporalAutoencoderTinyConfig {
        let config = try decodeConfigFile(TemporalAutoencoderTinyConfig.self, from: url)
        try config.validate(file: url.path)
        return config
    }

    /// The checks the original makes at construction, plus the settings this port implements.
    public func validate(file: String) throws {
        func fail(_ problem: String) -> ConfigFileError { ConfigFileError(file: file, problem: problem) }
        guard !encoderBlockOutChannels.isEmpty, encoderBlockOutChannels.count == numEncoderBlocks.count else {
            throw fail("encoder_block_out_channels (\(encoderBlockOutChannels.count) entries) and num_encoder_blocks (\(numEncoderBlocks.count)) must have the same non-zero length")
        }
        guard !decoderBlockOutChannels.isEmpty, decoderBlockOutChannels.count == numDecoderBlocks.count else {
            throw fail("decoder_block_out_channels (\(decoderBlockOutChannels.count) entries) and num_decoder_blocks (\(numDecoderBlocks.count)) must have the same non-zero length")
        }
        guard TinyActivation(name: actFn) != nil else {
            throw fail("act_fn \"\(actFn)\" is not supported (expected relu, silu, swish or gelu)")
        }
        guard upsampleFn == "nearest" || upsampleFn == "bilinear" else {
            throw fail("upsample_fn \"\(upsampleFn)\" is not supported (expected nearest or bilinear)")
        }
        guard upsamplingScalingFactor >= 1 else { throw fail("upsampling_scaling_factor must be >= 1, found \(upsamplingScalingFactor)") }
    }
}
