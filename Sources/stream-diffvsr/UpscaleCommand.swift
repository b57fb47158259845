import ArgumentParser
import TensorEngine
import Foundation
import Media
import VideoJobs

struct UpscaleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upscale",
        abstract: "Upscale folders of frames (one folder per sequence) or a video file by 4x.",
        discussion: """
        IN is a folder of sequence folders (like the original inference.py), a single sequence folder, or a video \
        file. Frames (PNG or JPEG) are processed in file-name order and written as PNG to \
        OUT/<name of IN>/<sequence>/<same file name>. A video is written to OUT when OUT ends in \
        .mp4/.mov/.mkv/.m4v, else to OUT/<video name>.mp4, with the source frame rate and audio.
        The original's option spellings (--model_id, --in_path, ...) are accepted too.
        """
    )

    @Option(name: [.customLong("model-id"), .customLong("model_id")],
            help: "Hugging Face repo id or local folder of the diffusers-layout model.")
    var modelID = "Jamichsu/Stream-DiffVSR"

    @Option(name: [.customLong("in-path"), .customLong("in_path")], help: "Folder of sequence folders, one sequence folder, or a video file.")
    var inPath: String

    @Option(name: [.customLong("out-path"), .customLong("out_path")], help: "Output folder (or video file).")
    var outPath = "./StreamDiffVSR_results/"

    @Option(name: [.customLong("num-inference-steps"), .customLong("num_inference_steps")], help: "DDIM sampling steps.")
    var numInferenceSteps = 4

    @Option(name: .customLong("flow-weights"), help: "RAFT-large weights: a .pth/.safetensors file or a URL (cached in the torch hub folder).")
    var flowWeights = "https://download.pytorch.org/models/raft_large_C_T_SKHT_V2-ff5fadd5.pth"

    @Option(help: "Text prompt (the reference always uses the empty prompt).")
    var prompt = ""

    @Option(help: "Seed of the initial noise (the original's inference.py uses 42).")
    var seed: UInt64 = 42

    @OptionGroup var noiseOptions: NoiseOptions

    @OptionGroup var tilingOptions: TilingOptions

    @Option(name: .customLong("initial-latents"),
            help: "Safetensors file with a tensor `latents` [N, 4, h, w]; frame i of each sequence starts from latents[i].")
    var initialLatents: String?

    @Option(help: "Where to compute: auto (the first discrete GPU, else the CPU), cpu, vulkan or vulkan:N (see `stream-diffvsr devices`).")
    var device: DeviceChoice = .automatic

    @Option(help: "CPU engine worker threads (default: all cores).")
    var threads: Int?

    @Option(name: .customLong("unet_pretrained_weight"), help: "Original option: UNet weights folder overriding the model's unet/.")
    var unetWeights: String?

    @Option(name: .customLong("controlnet_pretrained_weight"), help: "Original option: ControlNet weights folder overriding controlnet/.")
    var controlNetWeights: String?

    @Option(name: .customLong("temporal_vae_pretrained_weight"), help: "Original option: temporal VAE weights folder overriding vae/.")
    var temporalVAEWeights: String?

    @Flag(name: .customLong("enable_tensorrt"), help: "Original option; ignored (there is no TensorRT on the CPU).")
    var enableTensorRT = false

    @Option(name: .customLong("image_height"), help: "Original option (TensorRT engine size); ignored, frame sizes come from the input.")
    var imageHeight: Int?

    @Option(name: .customLong("image_width"), help: "Original option (TensorRT engine size); ignored, frame sizes come from the input.")
    var imageWidth: Int?

    func validate() throws {
        guard numInferenceSteps >= 1 else { throw ValidationError("--num-inference-steps must be at least 1, got \(numInferenceSteps)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        if enableTensorRT { note("--enable_tensorrt is ignored: this port has no TensorRT (use --device)") }
        if imageHeight != nil || imageWidth != nil {
            note("--image_height/--image_width are ignored: they sized the original's TensorRT engine; output size is 4x the input")
        }
        do {
            let job = try VideoJob.plan(inPath: inPath, outPath: outPath)
            let progress = ProgressRenderer()
            let runner = JobRunner(job: job, onEvent: progress.handle)
            // Input problems surface before the (slow) model load.
            try runner.validate()
            let factory = try PipelineUpscalerFactory(settings: settings)
            let summary = try runner.run(factory: factory)
            progress.printSummary(summary)
        } catch {
            throw exitWithError(error)
        }
    }

    var settings: PipelineSettings {
        var settings = PipelineSettings(modelReference: modelID, flowWeights: flowWeights)
        settings.numInferenceSteps = numInferenceSteps
        settings.prompt = prompt
        settings.seed = seed
        settings.noise = noiseOptions.source
        settings.tiling = tilingOptions.tiling
        settings.tileOverlap = tilingOptions.tileOverlap
        settings.tileBlending = tilingOptions.tileBlending
        settings.initialLatentsPath = initialLatents
        settings.device = device
        settings.threads = threads
        settings.componentOverrides[.unet] = unetWeights
        settings.componentOverrides[.controlNet] = controlNetWeights
        settings.componentOverrides[.autoencoder] = temporalVAEWeights
        return settings
    }

    private func note(_ text: String) {
        FileHandle.standardError.write(Data("note: \(text)\n".utf8))
    }
}
