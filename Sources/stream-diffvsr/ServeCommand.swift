import ArgumentParser
import TensorEngine
import Foundation
import Media
import StreamDiffVSR
import VideoJobs
import WebApp

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the web page and the streaming API (loads the model once).",
        discussion: """
        Environment: PORT (8000), STREAM_DIFFVSR_MODEL_ID (Jamichsu/Stream-DiffVSR), STREAM_DIFFVSR_TMP_DIR \
        (.stream_diffvsr_tmp), STREAM_DIFFVSR_OUTPUT_DIR (outputs), STREAM_DIFFVSR_MAX_UPLOAD_MB (2048), \
        STREAM_DIFFVSR_MAX_INPUT_SIDE (1920). Options given on the command line win over the environment. \
        See docs/webapp.md.
        """
    )

    @Option(help: "Address to listen on (0.0.0.0 for every interface).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (default: $PORT, else 8000).")
    var port: Int?

    @Option(name: [.customLong("model-id"), .customLong("model_id")],
            help: "Hugging Face repo id or local folder (default: $STREAM_DIFFVSR_MODEL_ID, else Jamichsu/Stream-DiffVSR).")
    var modelID: String?

    @Option(name: .customLong("flow-weights"), help: "RAFT-large weights: a .pth/.safetensors file or a URL.")
    var flowWeights = "https://download.pytorch.org/models/raft_large_C_T_SKHT_V2-ff5fadd5.pth"

    @Option(name: .customLong("default-steps"), help: "Inference steps the page starts with.")
    var defaultSteps = 4

    @Option(help: "Seed of the initial noise (the original's inference.py uses 42).")
    var seed: UInt64 = 42

    @OptionGroup var noiseOptions: NoiseOptions

    @OptionGroup var tilingOptions: TilingOptions

    @Option(help: "Where to compute: auto (the first discrete GPU, else the CPU), cpu, vulkan or vulkan:N.")
    var device: DeviceChoice = .automatic

    @Option(help: "CPU engine worker threads (default: all cores).")
    var threads: Int?

    @Flag(name: .customLong("nearest-upscaler-for-testing"), help: .hidden)
    var nearestStandIn = false

    func validate() throws {
        guard ServerConfiguration.inferenceStepRange.contains(defaultSteps) else {
            throw ValidationError("--default-steps must be between 1 and 50, got \(defaultSteps)")
        }
    }

    func run() throws {
        do {
            var configuration = try ServerConfiguration.fromEnvironment()
            configuration.host = host
            if let port { configuration.port = port }
            if let modelID { configuration.modelID = modelID }
            configuration.defaultInferenceSteps = defaultSteps
            var settings = PipelineSettings(modelReference: configuration.modelID, flowWeights: flowWeights)
            settings.numInferenceSteps = defaultSteps
            settings.seed = seed
            settings.device = device
            settings.noise = noiseOptions.source
            settings.tiling = tilingOptions.tiling
            settings.tileOverlap = tilingOptions.tileOverlap
            settings.tileBlending = tilingOptions.tileBlending
            settings.threads = threads
            let tools = try FFmpegTools.locate()
            let loadStart = Date()
            let provider: UpscalerProvider = nearestStandIn ? NearestStandInProvider() : try PipelineProvider(settings: settings)
            let loaded = String(format: "model loaded in %.2f s", Date().timeIntervalSince(loadStart))
            let server = try WebServer(configuration: configuration, provider: provider, tools: tools)
            defer { server.stop() }
            FileHandle.standardError.write(Data("serving \(provider.modelName) on http://\(configuration.host):\(configuration.port)/ (\(loaded))\n".utf8))
            try runUntilStopped(server)
        } catch {
            throw exitWithError(error)
        }
    }

    /// The CLI is synchronous; the server runs on Swift concurrency until SIGINT/SIGTERM shuts it down gracefully.
    private func runUntilStopped(_ server: WebServer) throws {
        final class Outcome: @unchecked Sendable { var error: Error? }
        let outcome = Outcome()
        let stopped = DispatchSemaphore(value: 0)
        Task {
            do { try await server.run() } catch { outcome.error = error }
            stopped.signal()
        }
        stopped.wait()
        if let error = outcome.error { throw error }
    }
}

/// The loaded pipeline behind the server: weights load once, at start-up; every job or stream opens
/// its own session on it with the step count it asked for.
final class PipelineProvider: UpscalerProvider {
    let modelName: String
    private let loaded: PipelineUpscalerFactory

    init(settings: PipelineSettings) throws {
        modelName = settings.modelReference
        loaded = try PipelineUpscalerFactory(settings: settings)
    }

    func factory(inferenceSteps: Int) throws -> UpscalerFactory {
        var options = loaded.options
        options.numInferenceSteps = inferenceSteps
        return SessionFactory(pipeline: loaded.pipeline, options: options)
    }

    private struct SessionFactory: UpscalerFactory {
        let pipeline: Pipeline
        let options: SessionOptions

        func makeUpscaler(sequence: String) throws -> FrameUpscaling {
            try pipeline.makeSession(options)
        }
    }
}
