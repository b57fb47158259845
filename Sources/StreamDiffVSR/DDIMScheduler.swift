// diffusers `DDIMScheduler` (0.27.x), deterministic (eta 0): the noise schedule, the inference
// timesteps and the update x_t -> x_{t-1}. Every quantity diffusers keeps as a float32 tensor is
// float32 here too, computed in the same order, so steps agree to float rounding.

import Foundation
import Models
import TensorEngine

public struct DDIMScheduler {
    public let config: DDIMSchedulerConfig
    /// ᾱ_t for t = 0 ..< num_train_timesteps (float32, like diffusers' `alphas_cumprod`).
    public let alphasCumprod: [Float]
    /// ᾱ used after the last timestep: 1 with `set_alpha_to_one`, else ᾱ_0.
    public let finalAlphaCumprod: Float
    /// The timesteps `step` is called with, in order (all training steps, descending, until `setTimesteps`).
    public var timesteps: [Int]
    public var initNoiseSigma: Float = 1
    public private(set) var inferenceStepCount: Int?

    public init(config: DDIMSchedulerConfig) throws {
        if let problem = config.unsupportedFeature { throw ConfigFileError(file: "DDIMSchedulerConfig", problem: problem) }
        self.config = config
        var betas = Self.betas(config)
        if config.rescaleBetasZeroSNR { betas = Self.rescaledToZeroTerminalSNR(betas) }
        alphasCumprod = Self.cumulativeProduct(betas.map { 1 - $0 })
        finalAlphaCumprod = config.setAlphaToOne ? 1 : alphasCumprod[0]
        timesteps = Array((0..<config.numTrainTimesteps).reversed())
    }

    /// Chooses `count` inference timesteps by `timestep_spacing` (numpy's round-half-to-even included).
    public mutating func setTimesteps(_ count: Int) throws {
        let trainSteps = config.numTrainTimesteps
        guard count >= 1 && count <= trainSteps else {
            throw ConfigFileError(file: "DDIMScheduler",
                                           problem: "num_inference_steps must be in 1...\(trainSteps), found \(count)")
        }
        inferenceStepCount = count
        switch config.timestepSpacing {
        case .linspace:
            // np.linspace(0, T - 1, n): i * step, with the last point exactly T - 1.
            let step = count > 1 ? Double(trainSteps - 1) / Double(count - 1) : 0
            timesteps = (0..<count).map { i in
                Int((i == count - 1 && count > 1 ? Double(trainSteps - 1) : Double(i) * step).rounded(.toNearestOrEven))
            }.reversed()
        case .leading:
            let ratio = trainSteps / count
            timesteps = (0..<count).map { $0 * ratio + config.stepsOffset }.reversed()
        case .trailing:
            // np.round(np.arange(T, 0, -T / n)) - 1
            let ratio = Double(trainSteps) / Double(count)
            let length = Int((Double(trainSteps) / ratio).rounded(.up))
            timesteps = (0..<length).map { Int((Double(trainSteps) - Double($0) * ratio).rounded(.toNearestOrEven)) - 1 }
        }
    }

    /// DDIM needs no input scaling.
    public func scaleModelInput(_ sample: Tensor, timestep: Int) -> Tensor { sample }

    /// One deterministic DDIM update (eta 0): x_{t-1} from x_t and the model output at `timestep`.
    /// The previous timestep is always t - T / n (also for trailing/linspace spacing, as in diffusers).
    public func step(modelOutput: Tensor, timestep: Int, sample: Tensor) -> Tensor {
        precondition(modelOutput.shape == sample.shape, "DDIM step: model output \(modelOutput.shape) vs sample \(sample.shape)")
        let count = inferenceStepCount ?? config.numTrainTimesteps
        let previous = timestep - config.numTrainTimesteps / count
        let alpha = alphasCumprod[timestep]
        let alphaPrevious = previous >= 0 ? alphasCumprod[previous] : finalAlphaCumprod
        let beta = 1 - alpha
        let (sqrtAlpha, sqrtBeta) = (alpha.squareRoot(), beta.squareRoot())
        let directionScale = (1 - alphaPrevious).squareRoot()
        let sqrtAlphaPrevious = alphaPrevious.squareRoot()
        let clip = config.clipSample ? config.clipSampleRange : nil
        return ddimStep(sample: sample, modelOutput: modelOutput,
                        DDIMStepParameters(prediction: config.predictionType, sqrtAlpha: sqrtAlpha, sqrtBeta: sqrtBeta,
                                           sqrtAlphaPrevious: sqrtAlphaPrevious, directionScale: directionScale, clip: clip))
    }

    /// float32 betas as diffusers builds them (torch.linspace in float32; the cosine schedule in double).
    static func betas(_ config: DDIMSchedulerConfig) -> [Float] {
        let count = config.numTrainTimesteps
        if let trained = config.trainedBetas { return trained.map { Float($0) } }
        switch config.betaSchedule {
        case .linear:
            return linspace(Float(config.betaStart), Float(config.betaEnd), count)
        case .scaledLinear:
            return linspace(Float(config.betaStart.squareRoot()), Float(config.betaEnd.squareRoot()), count).map { $0 * $0 }
        case .squaredCosCapV2:
            func alphaBar(_ t: Double) -> Double {
                let c = cos((t + 0.008) / 1.008 * Double.pi / 2)
                return c * c
            }
            return (0..<count).map { i in
                Float(min(1 - alphaBar(Double(i + 1) / Double(count)) / alphaBar(Double(i) / Double(count)), 0.999))
            }
        }
    }

    /// torch.linspace's float32 formula (from both ends towards the middle). PyTorch's SIMD kernel (like
    /// its SLEEF sqrt in the zero-SNR rescale) rounds some entries one ulp differently, which no
    /// portable formula reproduces; ᾱ therefore agrees to a few ulps, not bit for bit.
    static func linspace(_ start: Float, _ end: Float, _ count: Int) -> [Float] {
        guard count > 1 else { return [start] }
        let step = (end - start) / Float(count - 1)
        let halfway = count / 2
        return (0..<count).map { i in i < halfway ? start + step * Float(i) : end - step * Float(count - i - 1) }
    }

    /// torch.cumprod on CPU: the running product is kept in double, each prefix stored as float32.
    static func cumulativeProduct(_ values: [Float]) -> [Float] {
        var product: Double = 1
        return values.map { product *= Double($0); return Float(product) }
    }

    /// `rescale_zero_terminal_snr` (Lin et al. 2023): shifts and scales sqrt(ᾱ) so the last step has
    /// zero signal, in diffusers' float32 operation order.
    static func rescaledToZeroTerminalSNR(_ betas: [Float]) -> [Float] {
        var roots = cumulativeProduct(betas.map { 1 - $0 }).map { $0.squareRoot() }
        let (first, last) = (roots[0], roots[roots.count - 1])
        let scale = first / (first - last)
        roots = roots.map { ($0 - last) * scale }
        let alphaBars = roots.map { $0 * $0 }
        var alphas = [alphaBars[0]]
        for i in 1..<alphaBars.count { alphas.append(alphaBars[i] / alphaBars[i - 1]) }
        return alphas.map { 1 - $0 }
    }
}
