import ArgumentParser
import Foundation
import Logging
import Media
import ServiceLifecycle
import WebApp
import WorkQueue

/// Default chunking of queued jobs, chosen from the seam measurements in docs/scale-out.md.
enum ChunkDefaults {
    static let chunkFrames = 30
    static let warmupFrames = 4
}

/// `serve --queue …`: the front of a PostgreSQL job queue (no model in this process).
struct QueueFrontOptions: ParsableArguments {
    @Option(help: ArgumentHelp("PostgreSQL job queue (postgres://user:password@host:port/database); jobs run on `stream-diffvsr worker` processes (default: $STREAM_DIFFVSR_QUEUE, else in this process).",
                               valueName: "url"))
    var queue: String? = ProcessInfo.processInfo.environment["STREAM_DIFFVSR_QUEUE"].flatMap { $0.isEmpty ? nil : $0 }

    @Option(help: ArgumentHelp("With --queue: the folder shared with every worker (uploads, chunks, results).", valueName: "dir"))
    var storage: String?

    @Option(name: .customLong("chunk-frames"),
            help: ArgumentHelp("With --queue: frames per chunk, each run by any worker; 0 runs a video as one stream (default: \(ChunkDefaults.chunkFrames)).",
                               valueName: "C"))
    var chosenChunkFrames: Int?

    @Option(name: .customLong("warmup-frames"),
            help: ArgumentHelp("With --queue: frames run before each chunk (outputs dropped) to rebuild the temporal state (default: \(ChunkDefaults.warmupFrames)).",
                               valueName: "W"))
    var chosenWarmupFrames: Int?

    var chunkFrames: Int { chosenChunkFrames ?? ChunkDefaults.chunkFrames }
    var warmupFrames: Int { chosenWarmupFrames ?? ChunkDefaults.warmupFrames }

    func validate() throws {
        guard queue != nil else {
            if storage != nil || chosenChunkFrames != nil || chosenWarmupFrames != nil {
                throw ValidationError("--storage, --chunk-frames and --warmup-frames need --queue (the in-process server runs each video as one stream)")
            }
            return
        }
        guard storage != nil else { throw ValidationError("--queue needs --storage DIR, a folder every worker can reach") }
        guard chunkFrames >= 0 else { throw ValidationError("--chunk-frames must be 0 or more, got \(chunkFrames)") }
        guard warmupFrames >= 0 else { throw ValidationError("--warmup-frames must be 0 or more, got \(warmupFrames)") }
    }

    func runFront(host: String, port: Int?, modelID: String?, defaultSteps: Int) async throws {
        do {
            var configuration = try ServerConfiguration.fromEnvironment()
            configuration.host = host
            if let port { configuration.port = port }
            if let modelID { configuration.modelID = modelID }
            configuration.defaultInferenceSteps = defaultSteps
            let serverConfiguration = configuration
            let logger = QueueLogging.bootstrap(label: "stream-diffvsr.serve")
            let tools = try FFmpegTools.locate()
            let storage = try SharedStorage(root: self.storage!)
            let queueURL = queue!, chunkFrames = chunkFrames, warmupFrames = warmupFrames
            let queue = try await PostgresJobQueue.connect(url: queueURL, logger: logger)
            defer { queue.shutdown() }
            let settings = QueueWebServer.Settings(chunkFrames: chunkFrames, warmupFrames: warmupFrames)
            let server = try QueueWebServer(configuration: serverConfiguration, settings: settings, queue: queue, storage: storage, tools: tools)
            logger.info("serving the queue front", metadata: [
                "url": "http://\(serverConfiguration.host):\(serverConfiguration.port)/", "queue": "\(PostgresJobQueue.redacted(queueURL))",
                "storage": "\(storage.root)", "chunk_frames": "\(chunkFrames)", "warmup_frames": "\(warmupFrames)",
            ])
            let group = ServiceGroup(services: [server.makeApplication(logger: logger)], gracefulShutdownSignals: [.sigterm, .sigint],
                                     logger: logger)
            try await group.run()
        } catch {
            throw exitWithError(error)
        }
    }
}

enum QueueLogging {
    /// swift-log to standard error, one line per event with its metadata as key=value pairs;
    /// STREAM_DIFFVSR_LOG_LEVEL (info) sets the level.
    static func bootstrap(label: String) -> Logger {
        let level = ProcessInfo.processInfo.environment["STREAM_DIFFVSR_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: label)
    }
}
