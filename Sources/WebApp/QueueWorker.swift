import Foundation
import Logging
import Media
import ServiceLifecycle
import VideoJobs
import WorkQueue

/// `stream-diffvsr worker`: claims tasks from the shared queue and runs them with the loaded model. A
/// chunk is decoded from shared storage, upscaled (warm-up frames first) and encoded into the job's chunk
/// folder; the join task puts the chunks and the source's audio and subtitles together. While a task runs
/// a heartbeat renews its lease and reports progress; a lost lease or an ended job stops the task at its
/// next frame. On graceful shutdown (SIGTERM) the worker claims nothing more and finishes the current
/// chunk when its estimated rest fits in `drainSeconds`, else releases it to the queue at the next frame.
public final class QueueWorker: Service, @unchecked Sendable {
    public struct Settings: Sendable {
        public var name: String
        public var lease: Duration = .seconds(30)
        public var pollInterval: Duration = .seconds(1)
        public var drainSeconds: Double = 20
        /// Stop when the queue has nothing to claim (batch runs, tests).
        public var exitWhenIdle = false

        public init(name: String = "\(ProcessInfo.processInfo.hostName)-\(getpid())") {
            self.name = name
        }
    }

    let queue: JobQueueBackend
    let provider: UpscalerProvider
    let storage: SharedStorage
    let tools: FFmpegTools
    let metrics: QueueMetrics
    let settings: Settings
    var logger: Logger
    private let control = Control()

    public init(queue: JobQueueBackend, provider: UpscalerProvider, storage: SharedStorage, tools: FFmpegTools,
                metrics: QueueMetrics, settings: Settings, logger: Logger) {
        self.queue = queue
        self.provider = provider
        self.storage = storage
        self.tools = tools
        self.metrics = metrics
        self.settings = settings
        self.logger = logger
        self.logger[metadataKey: "worker"] = "\(settings.name)"
    }

    /// Claims and runs tasks until a graceful shutdown (or, with `exitWhenIdle`, an empty queue).
    public func run() async throws {
        logger.info("worker started", metadata: ["lease_seconds": "\(settings.lease.components.seconds)"])
        try await withGracefulShutdownHandler {
            while !control.isDraining {
                guard let task = try await queue.claim(worker: settings.name, lease: settings.lease) else {
                    if settings.exitWhenIdle { break }
                    try? await Task.sleep(for: settings.pollInterval)
                    continue
                }
                await runClaimed(task)
            }
        } onGracefulShutdown: { [control, logger] in
            logger.info("draining: no new tasks; the current chunk finishes or goes back to the queue")
            control.startDraining()
        }
        logger.info("worker stopped")
    }

    /// Stops claiming; what `SIGTERM` does through the service group.
    public func drain() {
        control.startDraining()
    }

    enum Stop: Error {
        case leaseLost, jobEnded, draining
    }

    private func runClaimed(_ task: ClaimedTask) async {
        var logger = logger
        logger[metadataKey: "job"] = "\(task.job.id)"
        logger[metadataKey: "task"] = "\(task.taskID)"
        logger[metadataKey: "attempt"] = "\(task.attempt)"
        switch task.work {
        case .chunk(let chunk): logger[metadataKey: "chunk"] = "\(chunk.index)"
        case .join: logger[metadataKey: "join"] = "true"
        }
        logger.info("task claimed")
        control.begin()
        let started = ContinuousClock.now
        let outcome = await withTaskGroup(of: Result<Void, Error>?.self) { group -> Result<Void, Error> in
            group.addTask { [self] in await runOnThread(task) }
            group.addTask { [self, logger] in
                await heartbeat(task, logger: logger)
                return nil
            }
            var result: Result<Void, Error> = .success(())
            for await value in group {
                if let value {
                    result = value
                    group.cancelAll()
                }
            }
            return result
        }
        do {
            switch outcome {
            case .success:
                if try await queue.complete(task) {
                    metrics.recordTask(.completed)
                    logger.info("task completed", metadata: ["seconds": "\((ContinuousClock.now - started).seconds)"])
                    if case .join = task.work {
                        metrics.recordJobFinished(seconds: Date().timeIntervalSince(task.jobCreatedAt))
                        try? FileManager.default.removeItem(atPath: try storage.resolve(storage.jobFolder(task.job.id)))
                    }
                } else {
                    metrics.recordTask(.leaseLost)
                    logger.warning("task finished after its lease was lost or its job ended; the result was dropped")
                }
            case .failure(Stop.draining):
                try await queue.release(task)
                metrics.recordTask(.released)
                logger.info("task released to the queue (draining)")
            case .failure(Stop.leaseLost):
                metrics.recordTask(.leaseLost)
                logger.warning("lease lost (another worker has the task); stopped")
            case .failure(Stop.jobEnded):
                logger.info("job cancelled or failed elsewhere; task stopped")
                try? FileManager.default.removeItem(atPath: try storage.resolve(storage.jobFolder(task.job.id)))
            case .failure(let error):
                let message = "\(error)".replacingOccurrences(of: storage.root + "/", with: "")
                try await queue.fail(task, message: message)
                metrics.recordTask(.failed)
                logger.error("task failed", metadata: ["error": "\(message)"])
            }
        } catch {
            // The queue is unreachable: the lease runs out and another worker takes the task.
            logger.error("could not report the task's end to the queue", metadata: ["error": "\(error)"])
        }
    }

    /// Renews the lease every third of its length with the latest progress; asks the task to stop
    /// when the lease is lost or the job ended.
    private func heartbeat(_ task: ClaimedTask, logger: Logger) async {
        let interval = settings.lease / 3
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled else { return }
            let progress = control.progress
            do {
                switch try await queue.heartbeat(task, lease: settings.lease, framesDone: progress.framesDone,
                                                 secondsPerFrame: progress.secondsPerFrame) {
                case .held: break
                case .lost: control.stop(.leaseLost)
                case .jobEnded: control.stop(.jobEnded)
                }
            } catch {
                logger.warning("heartbeat failed; retrying", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The model computes on a thread of its own: it blocks for seconds per frame and uses every core.
    private func runOnThread(_ task: ClaimedTask) async -> Result<Void, Error> {
        await withCheckedContinuation { continuation in
            let thread = Thread { [self] in
                continuation.resume(returning: Result { try perform(task) })
            }
            thread.name = "stream-diffvsr queue worker"
            thread.stackSize = 16 << 20
            thread.start()
        }
    }

    private func perform(_ task: ClaimedTask) throws {
        switch task.work {
        case .chunk(let chunk): try runChunk(chunk, of: task.job)
        case .join(let count): try join(task.job, chunkCount: count)
        }
    }

    private func runChunk(_ chunk: ChunkRange, of job: NewJob) throws {
        let source = try storage.resolve(job.sourcePath)
        let folder = try storage.resolve(storage.chunkFolder(job: job.id))
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let quality = OutputQuality(rawValue: job.quality) ?? .standard
        let upscaler = try provider.factory(inferenceSteps: job.inferenceSteps, firstFrameIndex: chunk.warmupFrom)
            .makeUpscaler(sequence: job.inputName)
        let runner = ChunkRunner(input: source, warmupFrom: chunk.warmupFrom, firstFrame: chunk.firstFrame,
                                 endFrame: chunk.isLast ? nil : chunk.endFrame, encoder: quality.encoder)
        var framesLeft = chunk.endFrame - chunk.warmupFrom
        try runner.run(upscaler: upscaler, destination: (folder as NSString).appendingPathComponent(SharedStorage.chunkName(chunk.index)),
                       tools: tools) { progress in
            metrics.recordFrame(seconds: progress.secondsPerFrame)
            framesLeft -= 1
            try control.frameFinished(framesDone: progress.framesDone, secondsPerFrame: progress.secondsPerFrame,
                                      framesLeft: framesLeft, drainSeconds: settings.drainSeconds)
        }
    }

    private func join(_ job: NewJob, chunkCount: Int) throws {
        let chunks = try ChunkPlan.split(frameCount: job.frameCount, chunkFrames: job.chunkFrames, warmupFrames: job.warmupFrames)
        guard chunks.count == chunkCount else {
            throw WebAppError.invalidRequest("the job has \(chunkCount) chunks in the queue but its plan has \(chunks.count)")
        }
        let source = try storage.resolve(job.sourcePath)
        let folder = try storage.resolve(storage.chunkFolder(job: job.id))
        let info = try VideoProbe.probe(source, tools: tools)
        let segments = chunks.map { VideoSegmentJoiner.Segment(name: SharedStorage.chunkName($0.index), frames: $0.frameCount) }
        try VideoSegmentJoiner.join(segments: segments, in: folder, frameRate: info.frameRate, source: SourceStreams(path: source, info: info),
                                    destination: try storage.resolve(job.outputPath), tools: tools)
    }

    /// What the compute thread and the async side share about the running task.
    final class Control: @unchecked Sendable {
        private let lock = NSLock()
        private var draining = false
        private var drainDeadline: Double?
        private var stopReason: Stop?
        private(set) var progressValue: (framesDone: Int, secondsPerFrame: Double?) = (0, nil)

        var isDraining: Bool { lock.withLock { draining } }
        var progress: (framesDone: Int, secondsPerFrame: Double?) { lock.withLock { progressValue } }

        func startDraining() {
            lock.withLock {
                draining = true
                if drainDeadline == nil { drainDeadline = ProcessInfo.processInfo.systemUptime }
            }
        }

        func begin() {
            lock.withLock {
                stopReason = nil
                progressValue = (0, nil)
            }
        }

        func stop(_ reason: Stop) {
            lock.withLock { if stopReason == nil { stopReason = reason } }
        }

        /// Throws when the task must stop now: lease lost, job ended, or draining with more frames
        /// left than fit before the drain deadline.
        func frameFinished(framesDone: Int, secondsPerFrame: Double, framesLeft: Int, drainSeconds: Double) throws {
            try lock.withLock {
                progressValue = (framesDone, secondsPerFrame)
                if let stopReason { throw stopReason }
                if draining, let drainDeadline {
                    let finishesAt = ProcessInfo.processInfo.systemUptime + Double(framesLeft) * secondsPerFrame
                    if finishesAt > drainDeadline + drainSeconds { throw Stop.draining }
                }
            }
        }
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
