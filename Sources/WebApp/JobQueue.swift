import Foundation
import Media
import VideoJobs

/// Jobs in arrival order behind one worker thread for the one loaded model. The worker streams each
/// video through `JobRunner` (decode, upscale, encode one frame at a time, audio muxed back), so the
/// whole video is one temporal sequence and never sits in memory.
final class JobQueue: @unchecked Sendable {
    private let model: SharedModel
    private let outputFolder: String
    private let tools: FFmpegTools?
    private let maxQueuedJobs: Int
    private let condition = NSCondition()
    private var jobs: [String: WebJob] = [:]
    private var waiting: [WebJob] = []
    private var stopping = false
    private var worker: Thread?
    private let workerEnded = DispatchSemaphore(value: 0)

    init(model: SharedModel, outputFolder: String, tools: FFmpegTools? = nil, maxQueuedJobs: Int = Int.max) {
        self.model = model
        self.outputFolder = outputFolder
        self.tools = tools
        self.maxQueuedJobs = maxQueuedJobs
    }

    func start() {
        let thread = Thread { [self] in
            work()
            workerEnded.signal()
        }
        thread.name = "stream-diffvsr job worker"
        thread.stackSize = 16 << 20
        worker = thread
        thread.start()
    }

    /// Cancels every job and waits (up to `timeout`) for the worker to stop at its next frame boundary,
    /// so a running job removes its partial output and scratch files before the process exits.
    func stop(timeout: TimeInterval = 120) {
        let (queued, running) = condition.withLock { () -> ([WebJob], [WebJob]) in
            guard !stopping else { return ([], []) }
            stopping = true
            let queued = waiting
            waiting.removeAll()
            condition.broadcast()
            return (queued, jobs.values.filter { $0.status.state == .running })
        }
        for job in queued { finishCancelled(job) }
        for job in running { _ = job.requestCancel() }
        if worker != nil, workerEnded.wait(timeout: .now() + timeout) == .success {
            workerEnded.signal()
        }
    }

    /// Refused (busy) while `maxQueuedJobs` jobs are already waiting.
    func submit(_ upload: Upload, inferenceSteps: Int, quality: OutputQuality = .standard) throws -> WebJob {
        let id = UUID().uuidString.lowercased()
        let stem = UploadStore.safeStem(upload.displayName)
        let outputName = "\(stem)-\(id.prefix(8))_x4.mp4"
        let job = WebJob(id: id, upload: upload, inferenceSteps: inferenceSteps, quality: quality,
                         outputPath: (outputFolder as NSString).appendingPathComponent(outputName),
                         downloadName: "\(stem)_x4.mp4")
        try condition.withLock {
            guard waiting.count < maxQueuedJobs else {
                throw WebAppError.busy("\(maxQueuedJobs) jobs are already waiting (STREAM_DIFFVSR_MAX_QUEUED_JOBS)")
            }
            jobs[id] = job
            waiting.append(job)
            condition.signal()
        }
        publishQueuePositions()
        return job
    }

    /// Forgets jobs that ended before `cutoff` and deletes their results; returns the result paths of
    /// the jobs still known (which the output folder's sweep must leave alone).
    func removeFinished(before cutoff: Date) -> Set<String> {
        let (removed, kept) = condition.withLock { () -> ([WebJob], [WebJob]) in
            let old = jobs.values.filter { job in job.finishedAt.map { $0 < cutoff } ?? false }
            for job in old { jobs.removeValue(forKey: job.id) }
            return (old, Array(jobs.values))
        }
        for job in removed { try? FileManager.default.removeItem(atPath: job.outputPath) }
        return Set(kept.map(\.outputPath))
    }

    func job(_ id: String) throws -> WebJob {
        guard let job = condition.withLock({ jobs[id] }) else { throw WebAppError.unknownJob(id: id) }
        return job
    }

    /// A waiting job is cancelled at once; a running one before its next frame.
    func cancel(_ id: String) throws {
        let job = try job(id)
        let wasWaiting = condition.withLock { () -> Bool in
            guard let index = waiting.firstIndex(where: { $0 === job }) else { return false }
            waiting.remove(at: index)
            return true
        }
        if wasWaiting {
            finishCancelled(job)
            publishQueuePositions()
        } else {
            _ = job.requestCancel()
        }
    }

    private func publishQueuePositions() {
        let order = condition.withLock { waiting }
        for (index, job) in order.enumerated() {
            job.update { $0.queuePosition = index + 1 }
        }
    }

    private func work() {
        while true {
            let next = condition.withLock { () -> WebJob? in
                while waiting.isEmpty && !stopping { condition.wait() }
                return stopping ? nil : waiting.removeFirst()
            }
            guard let job = next else { return }
            publishQueuePositions()
            run(job)
        }
    }

    private func run(_ job: WebJob) {
        defer { try? FileManager.default.removeItem(atPath: job.upload.folder) }
        guard !job.isCancelRequested else {
            finishCancelled(job)
            return
        }
        job.update {
            $0.state = .running
            $0.queuePosition = nil
        }
        let frameCount = job.upload.info.frameCount
        var options = JobOptions()
        options.encoder = job.quality.encoder
        let runner = JobRunner(job: .video(input: job.upload.sourcePath, output: job.outputPath), options: options, tools: tools) { event in
            switch event {
            case .warning(let text):
                job.update { $0.warnings.append(text.replacingOccurrences(of: job.upload.sourcePath, with: job.upload.displayName)) }
            case .frameFinished(let progress):
                // The upload's packet count is exact; the runner's count may be estimated from the duration.
                job.update {
                    $0.framesDone = progress.framesDone
                    $0.frameCount = max(frameCount, progress.framesDone)
                    $0.secondsPerFrame = progress.secondsPerFrame
                    $0.etaSeconds = Double($0.frameCount - progress.framesDone) * progress.secondsPerFrame
                }
            case .sequenceStarted, .sequenceFinished, .resumed:
                break
            }
        }
        let factory = ObservingFactory(model: model, job: job)
        do {
            try runner.run(factory: factory)
            job.update {
                $0.state = .finished
                $0.frameCount = $0.framesDone
                $0.etaSeconds = 0
                $0.outputWidth = factory.outputSize?.width
                $0.outputHeight = factory.outputSize?.height
                $0.resultURL = "/api/jobs/\(job.id)/result"
            }
        } catch WebAppError.cancelled {
            finishCancelled(job)
        } catch {
            // Messages name the upload by the user's file name, never by the server's scratch path.
            let message = "\(error)".replacingOccurrences(of: job.upload.sourcePath, with: job.upload.displayName)
            job.update {
                $0.state = .failed
                $0.message = message
            }
        }
    }

    private func finishCancelled(_ job: WebJob) {
        try? FileManager.default.removeItem(atPath: job.upload.folder)
        job.update {
            $0.state = .cancelled
            $0.queuePosition = nil
            $0.etaSeconds = nil
        }
    }
}

/// Makes the model's upscaler for the job's sequence and wraps it so each frame checks the cancel flag,
/// takes its turn on the shared model and leaves its input/output pair for the live preview.
private final class ObservingFactory: UpscalerFactory {
    let model: SharedModel
    let job: WebJob
    private(set) var outputSize: (width: Int, height: Int)?

    init(model: SharedModel, job: WebJob) {
        self.model = model
        self.job = job
    }

    func makeUpscaler(sequence: String) throws -> FrameUpscaling {
        let inner = try model.makeUpscaler(inferenceSteps: job.inferenceSteps, sequence: job.upload.displayName)
        return ObservedUpscaler(inner: inner, factory: self)
    }

    final class ObservedUpscaler: FrameUpscaling {
        let inner: FrameUpscaling
        let factory: ObservingFactory
        private var index = 0

        init(inner: FrameUpscaling, factory: ObservingFactory) {
            self.inner = inner
            self.factory = factory
        }

        func upscale(_ frame: RGBImage) throws -> RGBImage {
            guard !factory.job.isCancelRequested else { throw WebAppError.cancelled }
            let output = try factory.model.upscale(frame, with: inner)
            guard !factory.job.isCancelRequested else { throw WebAppError.cancelled }
            index += 1
            factory.outputSize = (output.width, output.height)
            factory.job.recordFrames(input: frame, output: output, index: index)
            return output
        }
    }
}
