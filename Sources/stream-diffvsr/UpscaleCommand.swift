import ArgumentParser
import TensorEngine
import Foundation
import Media
import StreamDiffVSR
import VideoJobs

struct UpscaleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upscale",
        abstract: "Upscale folders of frames (one folder per sequence) or a video file by 4x.",
        discussion: """
        IN is a folder of sequence folders (like the original inference.py), a single sequence folder, or a video \
        file. Frames (PNG or JPEG) are processed in file-name order and written as PNG to \
        OUT/<name of IN>/<sequence>/<same file name>. A video is written to OUT when OUT ends in \
        .mp4/.mov/.mkv/.m4v, else to OUT/<video name>.mp4, with the source frame rate, audio, subtitles, chapters \
        and metadata.

        Every --checkpoint-every frames the run's state is saved in a hidden folder beside the output \
        (.<name>.resume); after an interruption (Ctrl-C, a crash, kill -9, a full disk) the same command with \
        --resume continues there and gives the same frames, bit for bit, as an uninterrupted run. Videos are \
        encoded in segments and joined without re-encoding at the end.
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

    @OptionGroup var compute: ComputeOptions

    @Option(help: "RAFT refinement iterations (the original uses 12; fewer is faster and less accurate).")
    var flowIterations = 12

    @Option(name: .customLong("flow-resolution"),
            help: "Where RAFT computes the flow: hr (on the 4x bicubic frames, as the original) or lr (on the input frames, flow scaled up 4x: much faster, not identical).")
    var flowResolution: FlowResolution = .hr

    @Option(help: ArgumentHelp("First frame to upscale, 0-based (of each sequence, or of the video).", valueName: "index"))
    var startFrame: Int?

    @Option(help: ArgumentHelp("First frame left out, like ffmpeg's trim end_frame (default: to the end).", valueName: "index"))
    var endFrame: Int?

    @Option(help: ArgumentHelp("Videos: start time in seconds; audio and subtitles are cut to match.", valueName: "seconds"))
    var start: Double?

    @Option(help: ArgumentHelp("Videos: seconds to upscale from --start (default: to the end).", valueName: "seconds"))
    var duration: Double?

    @Flag(help: "Continue an interrupted run from the checkpoint beside its output (a fresh start when there is none).")
    var resume = false

    @Option(help: ArgumentHelp("Save the run's state every N frames: --resume loses at most N frames of work.", valueName: "N"))
    var checkpointEvery = 10

    @Option(help: ArgumentHelp("Video outputs are encoded in segments of N frames (rounded up to a multiple of --checkpoint-every; each starts with a keyframe).", valueName: "N"))
    var segmentFrames = 250

    @Option(help: "Video encoder (the local ffmpeg must have it; checked before any work).")
    var codec: VideoEncoderSettings.Codec = .libx264

    @Option(help: "Quality, lower is better (default: 16 for libx264, 18 for libx265, 24 for AV1; ffv1 is lossless and takes none).")
    var crf: Int?

    @Option(help: "Encoder speed: ultrafast ... veryslow for libx264/libx265 (default medium), 0-13 for libsvtav1, 0-8 (cpu-used) for libaom-av1.")
    var preset: String?

    @Option(name: .customLong("pix-fmt"),
            help: "Pixel format (default: yuv420p; bgr0, 8-bit RGB without colour conversion, for ffv1, so that it is lossless).")
    var pixelFormat: VideoEncoderSettings.PixelFormat?

    @Option(name: .customLong("encoder-option"), parsing: .singleValue,
            help: ArgumentHelp("Passed to the encoder as -KEY VALUE (repeatable), e.g. tune=film or x264-params=aq-mode=3.", valueName: "KEY=VALUE"))
    var encoderOptions: [String] = []

    @Flag(name: .customLong("no-audio"), help: "Leave the source's audio out of a video output.")
    var noAudio = false

    @Flag(name: .customLong("no-subtitles"), help: "Leave the source's subtitle streams out of a video output.")
    var noSubtitles = false

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
        guard flowIterations >= 1 else { throw ValidationError("--flow-iterations must be at least 1, got \(flowIterations)") }
    }

    func run() async throws {
        if enableTensorRT { note("--enable_tensorrt is ignored: this port has no TensorRT (use --device)") }
        if imageHeight != nil || imageWidth != nil {
            note("--image_height/--image_width are ignored: they sized the original's TensorRT engine; output size is 4x the input")
        }
        do {
            let job = try VideoJob.plan(inPath: inPath, outPath: outPath)
            let options = try jobOptions
            if case .sequences = job, options.encoder != VideoEncoderSettings() || noAudio || noSubtitles {
                note("--codec, --crf, --preset, --pix-fmt, --encoder-option, --no-audio and --no-subtitles apply to video outputs; frames are written as PNG")
            }
            let progress = ProgressRenderer()
            let runner = JobRunner(job: job, options: options, onEvent: progress.handle)
            // Input problems surface before the (slow) model load.
            try runner.validate()
            let loadStart = Date()
            let factory = try await PipelineUpscalerFactory(settings: settings)
            let loadSeconds = Date().timeIntervalSince(loadStart)
            let summary = try runner.run(factory: factory)
            progress.printSummary(summary, modelLoadSeconds: loadSeconds)
        } catch {
            throw exitWithError(error)
        }
    }

    var jobOptions: JobOptions {
        get throws {
            var options = JobOptions()
            options.selection = FrameSelection(startFrame: startFrame, endFrame: endFrame, startSeconds: start, durationSeconds: duration)
            options.resume = resume
            options.checkpointEvery = checkpointEvery
            options.segmentFrames = segmentFrames
            options.encoder = VideoEncoderSettings(codec: codec, crf: crf, preset: preset, pixelFormat: pixelFormat,
                                                   options: try encoderOptions.map(VideoEncoderSettings.Option.init(parsing:)))
            options.keepAudio = !noAudio
            options.keepSubtitles = !noSubtitles
            return options
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
        compute.apply(to: &settings)
        settings.flowResolution = flowResolution
        settings.flowIterations = flowIterations
        settings.componentOverrides[.unet] = unetWeights
        settings.componentOverrides[.controlNet] = controlNetWeights
        settings.componentOverrides[.autoencoder] = temporalVAEWeights
        return settings
    }

    private func note(_ text: String) {
        FileHandle.standardError.write(Data("note: \(text)\n".utf8))
    }
}

extension FlowResolution: ExpressibleByArgument {}
extension VideoEncoderSettings.Codec: ExpressibleByArgument {}
extension VideoEncoderSettings.PixelFormat: ExpressibleByArgument {}
