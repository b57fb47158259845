import ArgumentParser
import TensorEngine
import Foundation
import Media
import StreamDiffVSR
import VideoJobs
import WebApp

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the web page and the streaming API (loads the model once).",
        discussion: """
        Environment: PORT (8000), STREAM_DIFFVSR_MODEL_ID (Jamichsu/Stream-DiffVSR), STREAM_DIFFVSR_TMP_DIR \
        (.stream_diffvsr_tmp), STREAM_DIFFVSR_OUTPUT_DIR (outputs), STREAM_DIFFVSR_MAX_UPLOAD_MB (2048), \
        STREAM_DIFFVSR_MAX_INPUT_SIDE (1920), STREAM_DIFFVSR_AUTH_TOKEN, STREAM_DIFFVSR_ALLOWED_HOSTS, and one \
        variable per limit (STREAM_DIFFVSR_MAX_PENDING_UPLOADS, _MAX_QUEUED_JOBS, _MAX_STREAMS, _MAX_FRAMES, \
        _UPLOAD_LIFETIME_MINUTES, _RETENTION_HOURS, _MIN_FREE_DISK_MB). Options given on the command line win \
        over the environment.

        Access: on 127.0.0.1 only this machine can connect; requests must name this server in Host and, \
        from a browser, come from its own page (Origin), so other web sites cannot drive it. Listening on \
        any other address (--host 0.0.0.0) requires --auth-token: everyone who can reach the port could \
        otherwise upload files and run jobs. See docs/webapp.md.

        With --queue postgres://… the server loads no model: jobs go to PostgreSQL, split into chunks, and \
        `stream-diffvsr worker` processes on any machine run them (see docs/scale-out.md).
        """
    )

    @Option(help: "Address to listen on. Anything but loopback (e.g. 0.0.0.0, every interface) requires --auth-token.")
    var host = "127.0.0.1"

    @Option(name: .customLong("auth-token"),
            help: "Access token (16+ characters) every client must send: open /?token=<token> once in the browser, or send 'Authorization: Bearer <token>' (default: $STREAM_DIFFVSR_AUTH_TOKEN). Prefer the variable: options show in the process list.")
    var authToken: String?

    @Option(name: .customLong("allowed-host"),
            help: "Host name clients may use to reach the server besides localhost and the --host address (repeatable; e.g. the machine's DNS name). Guards against DNS rebinding.")
    var allowedHosts: [String] = []

    @Option(name: .customLong("max-pending-uploads"), help: "Uploads waiting for a job at once (default 8).")
    var maxPendingUploads: Int?

    @Option(name: .customLong("max-queued-jobs"), help: "Jobs waiting behind the running one (default 16).")
    var maxQueuedJobs: Int?

    @Option(name: .customLong("max-streams"), help: "Open WebSocket streams at once (default 4).")
    var maxStreams: Int?

    @Option(name: .customLong("max-frames"), help: "Frames per uploaded video and per stream (default 108000: an hour at 30 fps).")
    var maxFrames: Int?

    @Option(name: .customLong("upload-lifetime"), help: "Minutes an upload waits for a job before it is removed (default 60).")
    var uploadLifetimeMinutes: Int?

    @Option(name: .customLong("retention"), help: "Hours finished jobs and their result videos are kept (default 24).")
    var retentionHours: Int?

    @Option(name: .customLong("min-free-disk"), help: "MB that must stay free on the scratch disk; uploads are refused (507) below it (default 1024).")
    var minFreeDiskMB: Int?

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

    @OptionGroup var compute: ComputeOptions

    @Flag(name: .customLong("nearest-upscaler-for-testing"), help: .hidden)
    var nearestStandIn = false

    @OptionGroup var queueOptions: QueueFrontOptions

    func validate() throws {
        guard ServerConfiguration.inferenceStepRange.contains(defaultSteps) else {
            throw ValidationError("--default-steps must be between 1 and 50, got \(defaultSteps)")
        }
        let limits: [(String, Int?)] = [("--max-pending-uploads", maxPendingUploads), ("--max-queued-jobs", maxQueuedJobs),
                                        ("--max-streams", maxStreams), ("--max-frames", maxFrames),
                                        ("--upload-lifetime", uploadLifetimeMinutes), ("--retention", retentionHours),
                                        ("--min-free-disk", minFreeDiskMB)]
        for (name, value) in limits {
            if let value, value < (name == "--min-free-disk" ? 0 : 1) {
                throw ValidationError("\(name) must be a positive whole number, got \(value)")
            }
        }
    }

    func run() async throws {
        if queueOptions.queue != nil {
            return try await queueOptions.runFront(host: host, port: port, modelID: modelID, defaultSteps: defaultSteps)
        }
        do {
            var configuration = try ServerConfiguration.fromEnvironment()
            configuration.host = host
            if let port { configuration.port = port }
            if let modelID { configuration.modelID = modelID }
            configuration.defaultInferenceSteps = defaultSteps
            if let authToken { configuration.authToken = authToken }
            if !allowedHosts.isEmpty { configuration.allowedHosts = allowedHosts }
            if let maxPendingUploads { configuration.limits.maxPendingUploads = maxPendingUploads }
            if let maxQueuedJobs { configuration.limits.maxQueuedJobs = maxQueuedJobs }
            if let maxStreams { configuration.limits.maxStreams = maxStreams }
            if let maxFrames { configuration.limits.maxFramesPerJob = maxFrames }
            if let uploadLifetimeMinutes { configuration.limits.uploadLifetime = TimeInterval(uploadLifetimeMinutes) * 60 }
            if let retentionHours { configuration.limits.resultRetention = TimeInterval(retentionHours) * 3600 }
            if let minFreeDiskMB { configuration.limits.minFreeDiskBytes = Int64(minFreeDiskMB) << 20 }
            // Refuse a public address without a token before the (slow) model load.
            try configuration.validateAccess()
            var settings = PipelineSettings(modelReference: configuration.modelID, flowWeights: flowWeights)
            settings.numInferenceSteps = defaultSteps
            settings.seed = seed
            settings.noise = noiseOptions.source
            settings.tiling = tilingOptions.tiling
            settings.tileOverlap = tilingOptions.tileOverlap
            settings.tileBlending = tilingOptions.tileBlending
            compute.apply(to: &settings)
            let tools = try FFmpegTools.locate()
            let loadStart = Date()
            let provider: UpscalerProvider = nearestStandIn ? NearestStandInProvider() : try await PipelineProvider(settings: settings)
            let loaded = String(format: "model loaded in %.2f s", Date().timeIntervalSince(loadStart))
            let server = try WebServer(configuration: configuration, provider: provider, tools: tools)
            defer { server.stop() }
            let address = "http://\(configuration.host):\(configuration.port)/"
            let opening = configuration.authToken == nil ? "" : " (open \(address)?token=<the access token> once per browser)"
            FileHandle.standardError.write(Data("serving \(provider.modelName) on \(address)\(opening) (\(loaded))\n".utf8))
            try await server.run()
        } catch {
            throw exitWithError(error)
        }
    }
}

/// The loaded pipeline behind the server: weights load once, at start-up; every job or stream opens
/// its own session on it with the step count it asked for.
final class PipelineProvider: UpscalerProvider {
    let modelName: String
    private let loaded: PipelineUpscalerFactory

    init(settings: PipelineSettings) async throws {
        modelName = settings.modelReference
        loaded = try await PipelineUpscalerFactory(settings: settings)
    }

    func factory(inferenceSteps: Int) throws -> UpscalerFactory {
        try factory(inferenceSteps: inferenceSteps, firstFrameIndex: 0)
    }

    func factory(inferenceSteps: Int, firstFrameIndex: Int) throws -> UpscalerFactory {
        var options = loaded.options
        options.numInferenceSteps = inferenceSteps
        options.firstFrameIndex = firstFrameIndex
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
