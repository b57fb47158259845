import ArgumentParser
import Foundation
import Logging
import Media
import ServiceLifecycle
import TensorEngine
import WebApp
import WorkQueue

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run queued jobs from `serve --queue` (any number of workers, on any machines).",
        discussion: """
        Loads the model once, then claims chunks of queued jobs from PostgreSQL, holding each under a lease \
        renewed by heartbeats; a worker that dies loses its lease and another takes the chunk. SIGTERM or \
        SIGINT drains: no new chunk is claimed, the current one finishes if it can within --drain-seconds, \
        else it goes back to the queue. See docs/scale-out.md.
        """
    )

    @Option(help: ArgumentHelp("PostgreSQL job queue, as given to `serve --queue` (default: $STREAM_DIFFVSR_QUEUE).", valueName: "url"))
    var queue: String? = ProcessInfo.processInfo.environment["STREAM_DIFFVSR_QUEUE"].flatMap { $0.isEmpty ? nil : $0 }

    @Option(help: ArgumentHelp("The storage folder shared with the front, mounted here.", valueName: "dir"))
    var storage: String

    @Option(name: [.customLong("model-id"), .customLong("model_id")], help: "Hugging Face repo id or local folder.")
    var modelID = ProcessInfo.processInfo.environment["STREAM_DIFFVSR_MODEL_ID"] ?? "Jamichsu/Stream-DiffVSR"

    @Option(name: .customLong("flow-weights"), help: "RAFT-large weights: a .pth/.safetensors file or a URL.")
    var flowWeights = "https://download.pytorch.org/models/raft_large_C_T_SKHT_V2-ff5fadd5.pth"

    @Option(help: "Seed of the initial noise (the original's inference.py uses 42); every chunk starts from it.")
    var seed: UInt64 = 42

    @OptionGroup var noiseOptions: NoiseOptions

    @OptionGroup var tilingOptions: TilingOptions

    @OptionGroup var compute: ComputeOptions

    @Option(help: "RAFT refinement iterations (the original uses 12; fewer is faster and less accurate).")
    var flowIterations = 12

    @Option(help: "Seconds a claimed chunk stays reserved without a heartbeat (heartbeats come every third of it).")
    var leaseSeconds = 30

    @Option(help: "On SIGTERM, finish the current chunk when its rest is estimated to take at most this long; else release it.")
    var drainSeconds = 20.0

    @Option(help: ArgumentHelp("Serve /metrics and /healthz on this port (default: none).", valueName: "port"))
    var metricsPort: Int?

    @Option(help: "Address the metrics listener binds to.")
    var metricsHost = "0.0.0.0"

    @Flag(help: "Exit when the queue has nothing to claim (batch runs).")
    var exitWhenIdle = false

    @Flag(name: .customLong("nearest-upscaler-for-testing"), help: .hidden)
    var nearestStandIn = false

    func validate() throws {
        guard queue != nil else { throw ValidationError("--queue postgres://… is required (or set STREAM_DIFFVSR_QUEUE)") }
        guard flowIterations >= 1 else { throw ValidationError("--flow-iterations must be at least 1, got \(flowIterations)") }
        guard (1...3600).contains(leaseSeconds) else { throw ValidationError("--lease-seconds must be between 1 and 3600, got \(leaseSeconds)") }
        guard drainSeconds >= 0 else { throw ValidationError("--drain-seconds must be 0 or more, got \(drainSeconds)") }
        if let metricsPort, !(0...65535).contains(metricsPort) { throw ValidationError("--metrics-port must be a port number, got \(metricsPort)") }
    }

    func run() async throws {
        do {
            let logger = QueueLogging.bootstrap(label: "stream-diffvsr.worker")
            let tools = try FFmpegTools.locate()
            let storage = try SharedStorage(root: storage)
            var pipeline = PipelineSettings(modelReference: modelID, flowWeights: flowWeights)
            pipeline.seed = seed
            pipeline.noise = noiseOptions.source
            pipeline.tiling = tilingOptions.tiling
            pipeline.tileOverlap = tilingOptions.tileOverlap
            pipeline.tileBlending = tilingOptions.tileBlending
            compute.apply(to: &pipeline)
            pipeline.flowIterations = flowIterations
            let provider: UpscalerProvider = nearestStandIn ? NearestStandInProvider() : try await PipelineProvider(settings: pipeline)
            logger.info("model loaded", metadata: ["model": "\(provider.modelName)"])
            var settings = QueueWorker.Settings()
            settings.lease = .seconds(leaseSeconds)
            settings.drainSeconds = drainSeconds
            settings.exitWhenIdle = exitWhenIdle
            let url = queue!, workerSettings = settings
            let metricsPort = metricsPort, metricsHost = metricsHost
            let queue = try await PostgresJobQueue.connect(url: url, logger: logger)
            defer { queue.shutdown() }
            let metrics = QueueMetrics()
            let worker = QueueWorker(queue: queue, provider: provider, storage: storage, tools: tools, metrics: metrics,
                                     settings: workerSettings, logger: logger)
            // The worker returns on its own only with --exit-when-idle: the metrics listener then stops too.
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
                .init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup),
            ]
            if let metricsPort {
                services.append(.init(service: MetricsEndpoint.application(metrics: metrics, host: metricsHost, port: metricsPort, logger: logger)))
            }
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                                              logger: logger))
            try await group.run()
        } catch {
            throw exitWithError(error)
        }
    }
}
