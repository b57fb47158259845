// Model-level benchmarks: one forward of a full-size network on random inputs, timed best-of after a
// warm-up call, with the process's peak RSS (weights included). Prints "name<TAB>seconds<TAB>peak MiB"
// so Benchmarks/run_models.sh can join it with Benchmarks/pytorch_models.py.

import Checkpoints
import Foundation
import Models
import TensorEngine

struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
}

/// Builds a model from one weights file with strict loading: every key of the file must be consumed
/// under its PyTorch name and shape, or loading fails naming the keys.
func loadStrictly<Model>(_ path: String, device: Device, ignoring: (String) -> Bool = { _ in false },
                         _ build: (WeightLoader) throws -> Model) throws -> Model {
    let loader = WeightLoader(try StateDict(contentsOf: path), device: device)
    let model = try build(loader)
    try loader.finish(ignoring: ignoring)
    return model
}

/// The text conditioning the release sees: CLIP ViT-H states for 77 tokens.
let textTokens = 77

func runModelBenchmark(_ name: String, options: BenchmarkOptions) throws {
    let sizes = options.filters.compactMap { parseSize($0) }
    guard !sizes.isEmpty else { throw BenchmarkError(description: "\(name): give at least one size as HxW") }
    let component = URL(fileURLWithPath: options.models)
    let device = options.device
    let loadStart = now(CLOCK_MONOTONIC)
    let forward: (_ height: Int, _ width: Int) -> () -> Void
    switch name {
    case "unet":
        let folder = component.appendingPathComponent("unet")
        let config = try UNet2DConditionConfig.load(from: folder.appendingPathComponent("config.json"))
        let unet = try loadStrictly(folder.appendingPathComponent("diffusion_pytorch_model.safetensors").path, device: device) {
            UNet2DCondition(config: config, weights: $0)
        }
        forward = { height, width in
            let sample = randomTensor([1, config.inChannels, height, width], on: device)
            let text = randomTensor([1, textTokens, config.crossAttentionDim.values(blocks: config.blockOutChannels.count)?.first ?? 1024], on: device)
            return { _ = unet(sample, timestep: 499, encoderHiddenStates: text) }
        }
    case "controlnet":
        let folder = component.appendingPathComponent("controlnet")
        let config = try ControlNetConfig.load(from: folder.appendingPathComponent("config.json"))
        let controlNet = try loadStrictly(folder.appendingPathComponent("diffusion_pytorch_model.safetensors").path, device: device) {
            ControlNet(config: config, weights: $0)
        }
        // The condition is the warped previous HR frame: the conditioning embedding downsamples it by
        // 2^(its stages - 1) to the latent size.
        let factor = 1 << (config.conditioningEmbeddingOutChannels.count - 1)
        forward = { height, width in
            let sample = randomTensor([1, config.inChannels, height, width], on: device)
            let text = randomTensor([1, textTokens, config.crossAttentionDim], on: device)
            let condition = randomTensor([1, config.conditioningChannels, height * factor, width * factor], on: device)
            return { _ = controlNet(sample, timestep: 499, encoderHiddenStates: text, condition: condition) }
        }
    case "decoder", "features":
        let folder = component.appendingPathComponent("vae")
        let config = try TemporalAutoencoderTinyConfig.load(from: folder.appendingPathComponent("config.json"))
        let autoencoder = try loadStrictly(folder.appendingPathComponent("diffusion_pytorch_model.safetensors").path, device: device) {
            TemporalAutoencoderTiny(config: config, weights: $0)
        }
        let factor = autoencoder.scaleFactor
        if name == "features" {
            forward = { height, width in
                let image = randomTensor([1, config.inChannels, height, width], on: device)
                return { _ = autoencoder.temporalFeatures(image) }
            }
        } else {
            // Every frame after the first decodes with the temporal features of the warped previous output.
            forward = { height, width in
                let latents = randomTensor([1, config.latentChannels, height, width], on: device)
                let features = autoencoder.temporalFeatures(randomTensor([1, config.inChannels, height * factor, width * factor], on: device))
                return { _ = autoencoder.decode(latents, temporalFeatures: features) }
            }
        }
    case "raft":
        let raft = try loadStrictly(options.flow, device: device, ignoring: RAFT.isUnusedKey) { RAFT(weights: $0) }
        forward = { height, width in
            let pair = randomTensor([2, 3, height, width], on: device)
            let first = pair.slice(axis: 0, 0..<1), second = pair.slice(axis: 0, 1..<2)
            return { _ = raft(image1: first, image2: second, iterations: 12) }
        }
    default:
        throw BenchmarkError(description: "unknown benchmark \(name)")
    }
    print("# \(name): loaded strictly in \(String(format: "%.1f", now(CLOCK_MONOTONIC) - loadStart)) s, "
          + "RSS \(String(format: "%.0f", currentResidentMiB() ?? 0)) MiB; \(device.info.name): \(device.info.driver), "
          + "\(options.cpuTime ? "CPU time / threads" : "wall clock")")
    let stopwatch = Stopwatch(options: options)
    for (height, width) in sizes {
        let run = forward(height, width)
        let seconds = stopwatch.best(run, calls: options.calls)
        print("\(name) \(height)x\(width)\t\(String(format: "%.3f", seconds))\t\(String(format: "%.0f", peakResidentMiB()))")
    }
}

/// Loads the four networks of the pipeline (UNet, ControlNet, the temporal autoencoder, the CLIP text
/// encoder) strictly from `--models`, one after the other as the pipeline does, and prints each
/// component's seconds and the total: the "ready in seconds" measure (warm page cache after a first run).
func runLoadBenchmark(options: BenchmarkOptions) throws {
    let root = URL(fileURLWithPath: options.models)
    let device = options.device
    func weights(_ component: String, _ file: String) -> String { root.appendingPathComponent(component).appendingPathComponent(file).path }
    func config(_ component: String, _ file: String = "config.json") -> URL { root.appendingPathComponent(component).appendingPathComponent(file) }
    var seconds: [(String, Double)] = []
    var models: [Any] = []
    func timed(_ name: String, _ load: () throws -> Any) rethrows {
        let start = now(CLOCK_MONOTONIC)
        models.append(try load())
        seconds.append((name, now(CLOCK_MONOTONIC) - start))
    }
    let total = now(CLOCK_MONOTONIC)
    try timed("unet") {
        let unetConfig = try UNet2DConditionConfig.load(from: config("unet"))
        return try loadStrictly(weights("unet", "diffusion_pytorch_model.safetensors"), device: device) { UNet2DCondition(config: unetConfig, weights: $0) }
    }
    try timed("controlnet") {
        let controlConfig = try ControlNetConfig.load(from: config("controlnet"))
        return try loadStrictly(weights("controlnet", "diffusion_pytorch_model.safetensors"), device: device) { ControlNet(config: controlConfig, weights: $0) }
    }
    try timed("vae") {
        let vaeConfig = try TemporalAutoencoderTinyConfig.load(from: config("vae"))
        return try loadStrictly(weights("vae", "diffusion_pytorch_model.safetensors"), device: device) { TemporalAutoencoderTiny(config: vaeConfig, weights: $0) }
    }
    try timed("text_encoder") {
        let textConfig = try CLIPTextConfig.load(from: config("text_encoder"))
        return try loadStrictly(weights("text_encoder", "model.safetensors"), device: device, ignoring: CLIPTextEncoder.isIgnorableKey) {
            CLIPTextEncoder(config: textConfig, weights: $0)
        }
    }
    let elapsed = now(CLOCK_MONOTONIC) - total
    print("# load \(options.models): " + seconds.map { "\($0.0) \(String(format: "%.2f", $0.1)) s" }.joined(separator: ", ")
          + "; RSS \(String(format: "%.0f", currentResidentMiB() ?? 0)) MiB")
    print("load\t\(String(format: "%.3f", elapsed))\t\(String(format: "%.0f", peakResidentMiB()))")
    withExtendedLifetime(models) {}
}
