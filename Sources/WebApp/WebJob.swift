import Foundation
import Media

/// What the page shows of a job; sent whole on every change (Server-Sent Events) and by GET /api/jobs/:id.
public struct JobStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case queued, running, finished, failed, cancelled
        public var isFinal: Bool { self == .finished || self == .failed || self == .cancelled }
    }

    public var id: String
    public var state: State
    public var inputName: String
    public var inferenceSteps: Int
    public var quality: OutputQuality
    /// 1 = next to run; nil unless queued.
    public var queuePosition: Int?
    public var framesDone: Int
    public var frameCount: Int
    public var secondsPerFrame: Double?
    public var etaSeconds: Double?
    public var inputWidth: Int
    public var inputHeight: Int
    public var outputWidth: Int?
    public var outputHeight: Int?
    public var warnings: [String]
    /// Why the job failed, in one line.
    public var message: String?
    /// Where to fetch the finished video; set only when `state` is finished.
    public var resultURL: String?
}

/// One upscaling job: its status, the clients watching it, its cancel flag and the latest frame pair.
final class WebJob: @unchecked Sendable {
    let id: String
    let upload: Upload
    let inferenceSteps: Int
    let quality: OutputQuality
    let outputPath: String
    /// Name offered when downloading the result.
    let downloadName: String

    private let lock = NSLock()
    private var current: JobStatus
    private var watchers: [UUID: AsyncStream<JobStatus>.Continuation] = [:]
    private var cancelRequested = false
    private var ended: Date?
    private var latestFrames: (index: Int, input: RGBImage, output: RGBImage)?
    private var encodedFrames: [FrameKind: (index: Int, png: [UInt8])] = [:]

    enum FrameKind: String, Sendable {
        case input, output
    }

    init(id: String, upload: Upload, inferenceSteps: Int, quality: OutputQuality, outputPath: String, downloadName: String) {
        self.id = id
        self.upload = upload
        self.inferenceSteps = inferenceSteps
        self.quality = quality
        self.outputPath = outputPath
        self.downloadName = downloadName
        current = JobStatus(id: id, state: .queued, inputName: upload.displayName, inferenceSteps: inferenceSteps,
                            quality: quality, queuePosition: nil, framesDone: 0, frameCount: upload.info.frameCount, secondsPerFrame: nil,
                            etaSeconds: nil, inputWidth: upload.info.width, inputHeight: upload.info.height,
                            outputWidth: nil, outputHeight: nil, warnings: [], message: nil, resultURL: nil)
    }

    var status: JobStatus { lock.withLock { current } }

    var isCancelRequested: Bool { lock.withLock { cancelRequested } }

    /// When the job reached its final state; nil while queued or running.
    var finishedAt: Date? { lock.withLock { ended } }

    /// Marks the job for cancellation; the worker stops it before its next frame. False when already over.
    func requestCancel() -> Bool {
        lock.withLock {
            guard !current.state.isFinal else { return false }
            cancelRequested = true
            return true
        }
    }

    /// Applies a change and sends the new status to every watcher; a final state ends their streams.
    /// A job that is already over never changes again.
    func update(_ change: (inout JobStatus) -> Void) {
        let (status, receivers) = lock.withLock { () -> (JobStatus?, [AsyncStream<JobStatus>.Continuation]) in
            guard !current.state.isFinal else { return (nil, []) }
            change(&current)
            let receivers = Array(watchers.values)
            if current.state.isFinal {
                ended = Date()
                watchers.removeAll()
                latestFrames = nil
                encodedFrames.removeAll()
            }
            return (current, receivers)
        }
        guard let status else { return }
        for receiver in receivers {
            receiver.yield(status)
            if status.state.isFinal { receiver.finish() }
        }
    }

    /// The current status at once, then every change, ending after the final one.
    func watch() -> AsyncStream<JobStatus> {
        AsyncStream { continuation in
            let key = UUID()
            let status = lock.withLock { () -> JobStatus in
                if !current.state.isFinal { watchers[key] = continuation }
                return current
            }
            continuation.yield(status)
            if status.state.isFinal {
                continuation.finish()
                return
            }
            continuation.onTermination = { [weak self] _ in
                guard let self else { return }
                _ = self.lock.withLock { self.watchers.removeValue(forKey: key) }
            }
        }
    }

    /// Keeps only the newest pair (the page asks for it after each progress event); encoding waits for a request.
    func recordFrames(input: RGBImage, output: RGBImage, index: Int) {
        lock.withLock { latestFrames = (index, input, output) }
    }

    /// The newest frame of one kind as PNG, encoded at most once per frame.
    func latestFramePNG(_ kind: FrameKind) throws -> (index: Int, png: [UInt8])? {
        guard let frames = lock.withLock({ latestFrames }) else { return nil }
        if let cached = lock.withLock({ encodedFrames[kind] }), cached.index == frames.index { return cached }
        let png = try PNGCodec.encode(kind == .input ? frames.input : frames.output)
        lock.withLock { encodedFrames[kind] = (frames.index, png) }
        return (frames.index, png)
    }
}
