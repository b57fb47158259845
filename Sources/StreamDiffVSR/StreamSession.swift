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
    /// Generator of the seeded noise: `.torchCUDA`/`.torchCPU` draw the original's latents for `seed` (TorchNoise.swift).
    public var noise: NoiseSource = .native
    /// A torch generator shared by the sessions of one run, continued in the order they draw, as the original
    /// draws the sequences of a folder one after another; nil: the session starts its own from `noise` and `seed`.
    public var torchNoise: TorchNoiseStream?
    /// RAFT refinement iterations (the reference uses 12).
    public var flowIterations: Int = 12
    /// RAFT on the 4x bicubic frames (`hr`, the reference) or on the LR frames (`lr`, cheaper, not identical).
    public var flowResolution: FlowResolution = .hr
    /// Whether frames are denoised and decoded in tiles (flow and warping always see the whole frame).
    public var tiling: Tiling = .automatic(maxMemoryBytes: nil)
    /// Overlap of neighbouring tiles, in LR pixels.
    public var tileOverlap: Int = 16
    public var tileBlending: TileBlending = .latent
    /// The index, in the whole video, of the session's first frame. A chunk of a longer stream (run by a
    /// queue worker) then draws the same native noise for each frame as one uninterrupted stream does.
    /// Torch noise sources draw in order from their generator whatever this says.
    public var firstFrameIndex: Int = 0
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
    /// `options.initialLatents` on the pipeline's device.
    private let injectedLatents: Tensor?
    private lazy var torchNoise = options.torchNoise ?? TorchNoiseStream(source: options.noise, seed: options.seed)

    init(pipeline: Pipeline, options: SessionOptions) throws {
        self.pipeline = pipeline
        self.options = options
        scheduler = try DDIMScheduler(config: pipeline.schedulerConfig)
        try scheduler.setTimesteps(options.numInferenceSteps)
        if let latents = options.initialLatents, latents.rank != 4 || latents.shape[1] != pipeline.latentChannels {
            throw PipelineError.initialLatents(path: "initial latents",
                                               reason: "expected shape [N, \(pipeline.latentChannels), h, w], found \(latents.shape)")
        }
        injectedLatents = try options.initialLatents?.to(pipeline.device)
        frameIndex = max(0, options.firstFrameIndex)
    }

    /// A session that continues the stream `state` was exported from: its frames are the ones the
    /// exporting session would have produced next, bit for bit. Throws when the state does not fit this
    /// pipeline's shapes or noise source.
    public convenience init(pipeline: Pipeline, options: SessionOptions, resumingFrom state: SessionState) throws {
        try self.init(pipeline: pipeline, options: options)
        try state.validate(scale: pipeline.autoencoder.scaleFactor, flowResolution: options.flowResolution)
        frameIndex = state.frameIndex
        frameSize = state.frameSize
        previous = try state.previous.map { (try $0.decoded.to(pipeline.device), try $0.flowInput.to(pipeline.device)) }
        if let noise = state.torchNoise {
            guard let stream = torchNoise else { throw SessionCheckpointError.otherOptions(option: "--noise", saved: "torch", current: "native") }
            try stream.restore(noise)
        }
    }

    /// Everything the next frame depends on (SessionCheckpoint.swift saves it to bytes).
    public func exportState() -> SessionState {
        SessionState(frameIndex: frameIndex, frameSize: frameSize, previous: previous, torchNoise: torchNoise?.state)
    }

    /// Upscales the next frame of the stream by the model's factor (4 for the release).
    /// Frames whose sides are not multiples of the VAE scale factor are first resized down to the
    /// nearest multiples with Lanczos, as the reference does.
    public func upscale(_ frame: RGBImage) throws -> RGBImage {
        try postprocess(try decodeNextFrame(frame))
    }

    /// The decoder's float output for the next frame ([1, 3, H, W], nominally [-1, 1], unclamped).
    public func decodeNextFrame(_ frame: RGBImage) throws -> Tensor {
        let started = Date()
        let decoded = try denoiseAndDecode(try preprocess(frame))
        try pipeline.device.synchronize()
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
        return Tensor(rgb8: image.pixels, width: width, height: height, on: pipeline.device)
    }

    /// docs/algorithm.md, steps 2 and 4-7: guidance from the previous output, four DDIM steps, temporal decode.
    func denoiseAndDecode(_ lowResolution: Tensor) throws -> Tensor {
        let textEmbedding = try pipeline.promptEmbedding(options.prompt)
        let scale = pipeline.autoencoder.scaleFactor
        let flowInput = options.flowResolution.flowInput(lowResolution, scale: scale)
        var warped: Tensor?
        if let previous {
            let flow = options.flowResolution.flow(pipeline.flowNetwork, current: flowInput, previous: previous.flowInput,
                                                   iterations: options.flowIterations, scale: scale)
            warped = MotionCompensation.flowWarp(previous.decoded, flow: flow)
        }
        let (height, width) = (lowResolution.shape[2], lowResolution.shape[3])
        let initial = try initialNoise(height: height, width: width)
        let frame = frameIndex, progress = options.progress
        let diffusion = FrameDiffusion(pipeline: pipeline, scheduler: scheduler, textEmbedding: textEmbedding) { step, total in
            progress?(.denoisingStep(frame: frame, step: step, of: total))
        }
        let decoded: Tensor
        if let plan = try tilePlan(height: height, width: width), plan.isTiled {
            decoded = diffusion.denoiseAndDecode(initial, lowResolution: lowResolution, warped: warped, plan: plan,
                                                 blending: options.tileBlending)
        } else {
            decoded = diffusion.decode(diffusion.denoise(initial, lowResolution: lowResolution, condition: warped), warped: warped)
        }
        previous = (decoded, flowInput)
        return decoded
    }

    /// Initial latents of the current frame: the injected ones, or seeded Gaussian noise, times init_noise_sigma.
    func initialNoise(height: Int, width: Int) throws -> Tensor {
        let shape = [1, pipeline.latentChannels, height, width]
        // Torch noise is drawn for injected frames too, so that frame i always gets the original's i-th latent.
        let torchLatents = try torchNoise?.nextLatents(count: shape.reduce(1, *))
        let noise: Tensor
        if let injected = injectedLatents, frameIndex < injected.shape[0],
           Array(injected.shape[1...]) == Array(shape[1...]) {
            noise = injected.slice(axis: 0, frameIndex..<(frameIndex + 1))
        } else if let torchLatents {
            noise = Tensor(shape: shape, scalars: torchLatents, on: pipeline.device)
        } else {
            var generator = GaussianNoise(seed: options.seed, stream: UInt64(frameIndex))
            noise = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in generator.next() }, on: pipeline.device)
        }
        return noise * scheduler.initNoiseSigma
    }

    /// The 8-bit frame of a decoded tensor: `round(clamp(x / 2 + 0.5, 0, 1) * 255)` with round-half-to-even,
    /// in float32 like the reference.
    public func postprocess(_ decoded: Tensor) throws -> RGBImage {
        RGBImage(width: decoded.shape[3], height: decoded.shape[2], pixels: try decoded.rgb8())
    }
}

/// Deterministic standard normal samples (SplitMix64 + Box-Muller), independent per (seed, stream): the
/// `.native` noise source.
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
