import Models
import TensorEngine

/// How a frame's diffusion is split when it does not fit in memory in one piece.
public enum Tiling: Sendable, Equatable {
    /// The whole frame at once (the reference's computation).
    case none
    /// Tiles of about `size` x `size` LR pixels.
    case size(Int)
    /// Tiles only when the frame would not fit `maxMemoryBytes` (nil: the device's free memory).
    case automatic(maxMemoryBytes: UInt64?)
}

/// What is blended where tiles overlap.
public enum TileBlending: String, Sendable, CaseIterable {
    /// Every denoising step runs over all tiles and their noise predictions are blended before the
    /// scheduler step (MultiDiffusion), so neighbouring tiles agree on one latent; the decoder's output
    /// tiles are then feathered.
    case latent
    /// Each tile is denoised and decoded on its own, and only the output tiles are feathered.
    case output
}

/// One frame's denoising loop and temporal decode (docs/algorithm.md, steps 6-7), on the whole frame or
/// tile by tile. Motion compensation happens before, always on the whole frame.
struct FrameDiffusion {
    let pipeline: Pipeline
    let scheduler: DDIMScheduler
    let textEmbedding: Tensor
    /// Called with (completed, total) denoising steps.
    let progress: (Int, Int) -> Void

    /// The denoised latents of a frame (or tile) from its initial noise, its LR image and, after the first
    /// frame, the warped previous output guiding the ControlNet.
    func denoise(_ initial: Tensor, lowResolution: Tensor, condition: Tensor?, reportSteps: Bool = true) -> Tensor {
        var latents = initial
        for (step, timestep) in scheduler.timesteps.enumerated() {
            latents = scheduler.step(modelOutput: noisePrediction(latents, lowResolution: lowResolution, condition: condition,
                                                                  timestep: timestep),
                                     timestep: timestep, sample: latents)
            if reportSteps { progress(step + 1, scheduler.timesteps.count) }
        }
        return latents
    }

    /// The UNet's prediction with the ControlNet's residuals when there is a condition.
    func noisePrediction(_ latents: Tensor, lowResolution: Tensor, condition: Tensor?, timestep: Int) -> Tensor {
        let modelInput = concat([scheduler.scaleModelInput(latents, timestep: timestep), lowResolution], axis: 1)
        let residuals = condition.map {
            pipeline.controlNet(modelInput, timestep: Float(timestep), encoderHiddenStates: textEmbedding, condition: $0,
                                conditioningScale: 1)
        }
        return pipeline.unet(modelInput, timestep: Float(timestep), encoderHiddenStates: textEmbedding,
                             downBlockAdditionalResiduals: residuals?.down, midBlockAdditionalResidual: residuals?.mid)
    }

    /// The decoder's float output for latents, fusing the encoder features of the warped previous output.
    func decode(_ latents: Tensor, warped: Tensor?) -> Tensor {
        let autoencoder = pipeline.autoencoder
        return autoencoder.decode(latents / autoencoder.scalingFactor, temporalFeatures: warped.map(autoencoder.temporalFeatures))
    }

    /// The frame tile by tile: `plan` cuts the latent (LR) plane; the warped previous output is cut at the
    /// decoder's scale, so each tile's temporal features come from the same region as its latents.
    func denoiseAndDecode(_ initial: Tensor, lowResolution: Tensor, warped: Tensor?, plan: TilePlan,
                          blending: TileBlending) -> Tensor {
        let scale = pipeline.autoencoder.scaleFactor
        let steps = scheduler.timesteps.count
        func latentWindow(_ x: Tensor, _ tile: TilePlan.Tile) -> Tensor {
            x.window(row: tile.row, column: tile.column, height: tile.height, width: tile.width)
        }
        func imageWindow(_ x: Tensor?, _ tile: TilePlan.Tile) -> Tensor? {
            x?.window(row: tile.row * scale, column: tile.column * scale, height: tile.height * scale, width: tile.width * scale)
        }
        var outputs = TileAccumulator(shape: [1, pipeline.autoencoder.config.outChannels,
                                              plan.height * scale, plan.width * scale], scale: scale, plan: plan)
        switch blending {
        case .latent:
            var latents = initial
            for (step, timestep) in scheduler.timesteps.enumerated() {
                var predictions = TileAccumulator(shape: initial.shape, scale: 1, plan: plan)
                for tile in plan.tiles {
                    predictions.add(noisePrediction(latentWindow(latents, tile), lowResolution: latentWindow(lowResolution, tile),
                                                    condition: imageWindow(warped, tile), timestep: timestep), tile: tile)
                }
                latents = scheduler.step(modelOutput: predictions.blended(), timestep: timestep, sample: latents)
                progress(step + 1, steps)
            }
            for tile in plan.tiles {
                outputs.add(decode(latentWindow(latents, tile), warped: imageWindow(warped, tile)), tile: tile)
            }
        case .output:
            for (index, tile) in plan.tiles.enumerated() {
                let condition = imageWindow(warped, tile)
                let latents = denoise(latentWindow(initial, tile), lowResolution: latentWindow(lowResolution, tile),
                                      condition: condition, reportSteps: false)
                outputs.add(decode(latents, warped: condition), tile: tile)
                progress((index + 1) * steps, plan.tiles.count * steps)
            }
        }
        return outputs.blended()
    }
}

/// Σ wᵢ xᵢ and Σ wᵢ over the tiles of a plan, at `scale` x the plan's size.
struct TileAccumulator {
    let scale: Int
    let plan: TilePlan
    private var sum: Tensor?
    private var weightSum: Tensor?
    private let shape: [Int]

    init(shape: [Int], scale: Int, plan: TilePlan) {
        self.shape = shape
        self.scale = scale
        self.plan = plan
    }

    mutating func add(_ value: Tensor, tile: TilePlan.Tile) {
        let weight = plan.weights(of: tile, scale: scale, on: value.device)
        var sum = self.sum ?? Tensor(zeros: shape, on: value.device)
        var weightSum = self.weightSum ?? Tensor(zeros: [1, 1, shape[2], shape[3]], on: value.device)
        self.sum = nil
        self.weightSum = nil
        let (row, column) = (tile.row * scale, tile.column * scale)
        let (height, width) = (value.dim(2), value.dim(3))
        sum.replaceWindow(row: row, column: column,
                          with: sum.window(row: row, column: column, height: height, width: width) + value * weight)
        weightSum.replaceWindow(row: row, column: column,
                                with: weightSum.window(row: row, column: column, height: height, width: width) + weight)
        self.sum = sum
        self.weightSum = weightSum
    }

    func blended() -> Tensor {
        guard let sum, let weightSum else { preconditionFailure("no tile was accumulated") }
        return sum / weightSum
    }
}
