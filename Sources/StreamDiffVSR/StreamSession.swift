import Foundation
import Media
import Models
import TensorEngine

/// Per-session settings.
public struct SessionOptions: Sendable {
    /// DDIM steps per frame (the release was distilled for 4).
    public var numInferenceSteps: Int = 4
    public var prompt: String = ""
    /// Seed of the initial noise; frame i of a stream always gets the same noise for the same seed.
    public var seed: UInt64 = 0
    /// Explicit initial noise [N, latentChannels, h, w]: frame i starts from `initialLatents[i]`
    /// (reproduces a reference run). Frames beyond N fall back to seeded noise.
    public var initialLatents: Tensor?
    /// RAFT refinement iterations (the reference uses 12).
    public var flowIterations: Int = 12
    /// RAFT on the 4x bicubic frames (`hr`, the reference) or on the LR frames (`lr`, cheaper, not identical).
    public var flowResolution: FlowResolution = .hr
    /// Called after every denoising step and every finished frame.
    public var progress: (@Sendable (SessionProgress) -> Void)?

    public init() {}
}

public enum SessionProgress: Sendable {
    case denoisingStep(frame: Int, step: Int, of: Int)
    case frameFinished(frame: Int, seconds: Double)
}

/// One stream: LR frames in, 4x frames out, in order. Holds only the previous decoded float frame
/// and the previous frame as the flow network saw it (bicubic-upscaled, or LR with `flowResolution`
/// lr), so memory is constant however long the stream. `exportState` and `init(pipeline:options:resumingFrom:)`
/// stop and continue a stream (SessionCheckpoint.swift).
public final class StreamSession {
    public let pipeline: Pipeline
    public let options: SessionOptions
    /// Frames processed so far.
    public private(set) var frameIndex = 0

    private(set) var scheduler: DDIMScheduler
    private var previous: (decoded: Tensor, flowInput: Tensor)?
    private var frameSize: (width: Int, height: Int)?

    init(pipeline: Pipeline, options: SessionOptions) throws {
        self.pipeline = pipeline
        self.options = options
        scheduler = try DDIMScheduler(config: pipeline.schedulerConfig)
        try scheduler.setTimesteps(options.numInferenceSteps)
        if let latents = options.initialLatents, latents.rank != 4 || latents.shape[1] != pipeline.latentChannels {
            throw PipelineError.initialLatents(path: "initial latents",
                                               reason: "expected shape [N, \(pipeline.latentChannels), h, w], found \(latents.shape)")
        }
    }

    /// A session that continues the stream `state` was exported from: its frames are the ones the
    /// exporting session would have produced next, bit for bit. Throws when the state does not fit this
    /// pipeline's shapes.
    public convenience init(pipeline: Pipeline, options: SessionOptions, resumingFrom state: SessionState) throws {
        try self.init(pipeline: pipeline, options: options)
        try state.validate(scale: pipeline.autoencoder.scaleFactor, flowResolution: options.flowResolution)
        frameIndex = state.frameIndex
        frameSize = state.frameSize
        previous = state.previous
    }

    /// Everything the next frame depends on (SessionCheckpoint.swift saves it to bytes).
    public func exportState() -> SessionState {
        SessionState(frameIndex: frameIndex, frameSize: frameSize, previous: previous)
    }

    /// Upscales the next frame of the stream by the model's factor (4 for the release).
    /// Frames whose sides are not multiples of the VAE scale factor are first resized down to the
    /// nearest multiples with Lanczos, as the reference does.
    public func upscale(_ frame: RGBImage) throws -> RGBImage {
        postprocess(try decodeNextFrame(frame))
    }

    /// The decoder's float output for the next frame ([1, 3, H, W], nominally [-1, 1], unclamped).
    public func decodeNextFrame(_ frame: RGBImage) throws -> Tensor {
        let started = Date()
        let decoded = try denoiseAndDecode(try preprocess(frame))
        options.progress?(.frameFinished(frame: frameIndex, seconds: Date().timeIntervalSince(started)))
        frameIndex += 1
        return decoded
    }

    /// The frame as the network sees it: [1, 3, h, w] in [-1, 1], sides floored to multiples of the VAE scale.
    func preprocess(_ frame: RGBImage) throws -> Tensor {
        let multiple = pipeline.autoencoder.scaleFactor
        let width = frame.width / multiple * multiple, height = frame.height / multiple * multiple
        guard width > 0, height > 0 else {
            throw PipelineError.frameTooSmall(width: frame.width, height: frame.height, minimum: multiple)
        }
        if let frameSize, frameSize != (frame.width, frame.height) {
            throw PipelineError.invalidFrame("frame \(frameIndex) is \(frame.width)x\(frame.height), the stream started at \(frameSize.width)x\(frameSize.height)")
        }
        frameSize = (frame.width, frame.height)
        let image = (width, height) == (frame.width, frame.height) ? frame : LanczosResize.resize(frame, width: width, height: height)
        let tensor = Tensor(uninitializedShape: [1, 3, height, width])
        let plane = width * height
        image.pixels.withUnsafeBufferPointer { pixels in
            for index in 0..<plane {
                for channel in 0..<3 {
                    // Same float32 arithmetic as the reference: x / 255, then 2x - 1.
                    let unit = Float(pixels[index * 3 + channel]) / 255
                    tensor.data[channel * plane + index] = 2 * unit - 1
                }
            }
        }
        return tensor
    }

    /// SPEC section 3, steps 2 and 4-7: guidance from the previous output, four DDIM steps, temporal decode.
    func denoiseAndDecode(_ lowResolution: Tensor) throws -> Tensor {
        let textEmbedding = pipeline.promptEmbedding(options.prompt)
        let scale = pipeline.autoencoder.scaleFactor
        let flowInput = options.flowResolution.flowInput(lowResolution, scale: scale)
        var guidance: (warped: Tensor, features: [Tensor])?
        if let previous {
            let flow = options.flowResolution.flow(pipeline.flowNetwork, current: flowInput, previous: previous.flowInput,
                                                   iterations: options.flowIterations, scale: scale)
            let warped = MotionCompensation.flowWarp(previous.decoded, flow: flow)
            guidance = (warped, pipeline.autoencoder.temporalFeatures(warped))
        }
        var latents = initialNoise(height: lowResolution.shape[2], width: lowResolution.shape[3])
        for (step, timestep) in scheduler.timesteps.enumerated() {
            let modelInput = concat([scheduler.scaleModelInput(latents, timestep: timestep), lowResolution], axis: 1)
            var residuals: (down: [Tensor], mid: Tensor)?
            if let guidance {
                residuals = pipeline.controlNet(modelInput, timestep: Float(timestep), encoderHiddenStates: textEmbedding,
                                                condition: guidance.warped, conditioningScale: 1)
            }
            let noisePrediction = pipeline.unet(modelInput, timestep: Float(timestep), encoderHiddenStates: textEmbedding,
                                                downBlockAdditionalResiduals: residuals?.down,
                                                midBlockAdditionalResidual: residuals?.mid)
            latents = scheduler.step(modelOutput: noisePrediction, timestep: timestep, sample: latents)
            options.progress?(.denoisingStep(frame: frameIndex, step: step + 1, of: scheduler.timesteps.count))
        }
        let decoded = pipeline.autoencoder.decode(latents / pipeline.autoencoder.scalingFactor,
                                                  temporalFeatures: guidance?.features)
        previous = (decoded, flowInput)
        return decoded
    }

    /// Initial latents of the current frame: the injected ones, or seeded Gaussian noise, times init_noise_sigma.
    func initialNoise(height: Int, width: Int) -> Tensor {
        let shape = [1, pipeline.latentChannels, height, width]
        let noise: Tensor
        if let injected = options.initialLatents, frameIndex < injected.shape[0],
           Array(injected.shape[1...]) == Array(shape[1...]) {
            noise = injected.slice(axis: 0, frameIndex..<(frameIndex + 1))
        } else {
            var generator = GaussianNoise(seed: options.seed, stream: UInt64(frameIndex))
            noise = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in generator.next() })
        }
        return noise * scheduler.initNoiseSigma
    }

    /// The 8-bit frame of a decoded tensor: `round(clamp(x / 2 + 0.5, 0, 1) * 255)` with round-half-to-even,
    /// in float32 like the reference.
    public func postprocess(_ decoded: Tensor) -> RGBImage {
        let (height, width) = (decoded.shape[2], decoded.shape[3])
        let plane = width * height
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        for index in 0..<plane {
            for channel in 0..<3 {
                let unit = min(max(decoded.data[channel * plane + index] / 2 + 0.5, 0), 1)
                pixels[index * 3 + channel] = UInt8((unit * 255).rounded(.toNearestOrEven))
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}

/// Deterministic standard normal samples (SplitMix64 + Box-Muller), independent per (seed, stream).
/// PyTorch's generator cannot be reproduced bit for bit, so reference runs inject their latents instead.
struct GaussianNoise {
    private var state: UInt64
    private var spare: Float?

    init(seed: UInt64, stream: UInt64) {
        state = seed &* 0x9E37_79B9_7F4A_7C15 ^ (stream &+ 1) &* 0xBF58_476D_1CE4_E5B9
    }

    private mutating func nextUniform() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (Double(z >> 11) + 0.5) * 0x1p-53
    }

    mutating func next() -> Float {
        if let spare {
            self.spare = nil
            return spare
        }
        let radius = (-2 * Foundation.log(nextUniform())).squareRoot()
        let angle = 2 * Double.pi * nextUniform()
        spare = Float(radius * Foundation.sin(angle))
        return Float(radius * Foundation.cos(angle))
    }
}
