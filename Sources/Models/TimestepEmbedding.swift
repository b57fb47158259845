// diffusers' `Timesteps` (sinusoidal projection, get_timestep_embedding) and `TimestepEmbedding`
// (linear, SiLU, linear), as used by UNet2DConditionModel and ControlNetModel.

import Checkpoints
import Foundation
import TensorEngine

/// `get_timestep_embedding` for `batch` copies of `timestep`: [batch, channels]. Every step is done in
/// float32 in diffusers' order (exponent = -ln(10000) * i, / (half - shift), exp, x timestep), because
/// a timestep near 1000 amplifies a one-ulp difference in the frequency into a visible phase error.
/// `flipSinToCos` puts cos first; an odd `channels` is padded with a zero column. Computed on the host,
/// uploaded to `device`.
public func sinusoidalTimestepEmbedding(timestep: Float, batch: Int, channels: Int, flipSinToCos: Bool,
                                        frequencyShift: Float, on device: Device = .cpu) -> Tensor {
    let half = channels / 2
    let logMaxPeriod = Float(-log(10000.0))
    let denominator = Float(half) - frequencyShift
    var row = [Float](repeating: 0, count: channels)
    for i in 0..<half {
        let frequency = Foundation.exp(logMaxPeriod * Float(i) / denominator)
        let angle = timestep * frequency
        let (sine, cosine) = (Foundation.sin(angle), Foundation.cos(angle))
        row[i] = flipSinToCos ? cosine : sine
        row[half + i] = flipSinToCos ? sine : cosine
    }
    return Tensor(shape: [batch, channels], scalars: Array((0..<batch).map { _ in row }.joined()), on: device)
}

/// `TimestepEmbedding`: linear_1, SiLU, linear_2.
struct TimestepEmbedding {
    let linear1: Linear
    let linear2: Linear

    init(_ weights: WeightLoader, inChannels: Int, embeddingChannels: Int) {
        linear1 = Linear(weights["linear_1"], inFeatures: inChannels, outFeatures: embeddingChannels)
        linear2 = Linear(weights["linear_2"], inFeatures: embeddingChannels, outFeatures: embeddingChannels)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { linear2(silu(linear1(x))) }
}
