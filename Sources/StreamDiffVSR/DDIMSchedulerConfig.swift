// The diffusers `DDIMScheduler` scheduler_config.json (0.27.x).

import Foundation
import Models
import TensorEngine

/// Mirrors `DDIMScheduler`'s config; keys missing from the file take diffusers' defaults.
public struct DDIMSchedulerConfig: Codable, Equatable, CheckedConfigFile {
    public enum BetaSchedule: String, Codable { case linear, scaledLinear = "scaled_linear", squaredCosCapV2 = "squaredcos_cap_v2" }
    /// What the UNet predicts (the engine's DDIM step takes the same type).
    public typealias PredictionType = TensorEngine.PredictionType
    public enum TimestepSpacing: String, Codable { case leading, trailing, linspace }

    public var numTrainTimesteps: Int = 1000
    public var betaStart: Double = 0.0001
    public var betaEnd: Double = 0.02
    public var betaSchedule: BetaSchedule = .linear
    public var trainedBetas: [Double]? = nil
    public var clipSample: Bool = true
    public var setAlphaToOne: Bool = true
    public var stepsOffset: Int = 0
    public var predictionType: PredictionType = .epsilon
    public var thresholding: Bool = false
    public var clipSampleRange: Float = 1
    public var timestepSpacing: TimestepSpacing = .leading
    public var rescaleBetasZeroSNR: Bool = false

    enum CodingKeys: String, CodingKey {
        case numTrainTimesteps = "num_train_timesteps", betaStart = "beta_start", betaEnd = "beta_end"
        case betaSchedule = "beta_schedule", trainedBetas = "trained_betas", clipSample = "clip_sample"
        case setAlphaToOne = "set_alpha_to_one", stepsOffset = "steps_offset", predictionType = "prediction_type"
        case thresholding, clipSampleRange = "clip_sample_range", timestepSpacing = "timestep_spacing"
        case rescaleBetasZeroSNR = "rescale_betas_zero_snr"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = DDIMSchedulerConfig()
        numTrainTimesteps = try c.decodeIfPresent(Int.self, forKey: .numTrainTimesteps) ?? defaults.numTrainTimesteps
        betaStart = try c.decodeIfPresent(Double.self, forKey: .betaStart) ?? defaults.betaStart
        betaEnd = try c.decodeIfPresent(Double.self, forKey: .betaEnd) ?? defaults.betaEnd
        betaSchedule = try c.decodeIfPresent(BetaSchedule.self, forKey: .betaSchedule) ?? defaults.betaSchedule
        trainedBetas = try c.decodeIfPresent([Double].self, forKey: .trainedBetas)
        clipSample = try c.decodeIfPresent(Bool.self, forKey: .clipSample) ?? defaults.clipSample
        setAlphaToOne = try c.decodeIfPresent(Bool.self, forKey: .setAlphaToOne) ?? defaults.setAlphaToOne
        stepsOffset = try c.decodeIfPresent(Int.self, forKey: .stepsOffset) ?? defaults.stepsOffset
        predictionType = try c.decodeIfPresent(PredictionType.self, forKey: .predictionType) ?? defaults.predictionType
        thresholding = try c.decodeIfPresent(Bool.self, forKey: .thresholding) ?? defaults.thresholding
        clipSampleRange = try c.decodeIfPresent(Float.self, forKey: .clipSampleRange) ?? defaults.clipSampleRange
        timestepSpacing = try c.decodeIfPresent(TimestepSpacing.self, forKey: .timestepSpacing) ?? defaults.timestepSpacing
        rescaleBetasZeroSNR = try c.decodeIfPresent(Bool.self, forKey: .rescaleBetasZeroSNR) ?? defaults.rescaleBetasZeroSNR
    }

    /// The first setting the port does not implement, if any.
    public var unsupportedFeature: String? {
        if thresholding { return "thresholding (dynamic thresholding) is not supported; expected \"thresholding\": false" }
        if numTrainTimesteps < 1 { return "num_train_timesteps must be positive, found \(numTrainTimesteps)" }
        if let trainedBetas, trainedBetas.count != numTrainTimesteps {
            return "trained_betas has \(trainedBetas.count) values, expected num_train_timesteps = \(numTrainTimesteps)"
        }
        return nil
    }
}
