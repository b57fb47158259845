// WorkQueue: where upscaling jobs wait and who runs them. A job is split into tasks (chunks of frames,
// then one join); workers claim a task under a lease, renew it with heartbeats while they work, and
// complete, fail or release it. A lease that is not renewed expires and the task is claimed again, so
// a worker that dies loses its work to another; a task completes at most once, and the join task is
// queued by the completion of the job's last chunk. Two implementations: in the process (tests, one
// machine) and PostgreSQL (`serve --queue`, `stream-diffvsr worker`). Knows nothing about video.
import Foundation

public enum JobState: String, Sendable, Codable, CaseIterable {
    case queued, running, finished, failed, cancelled
    public var isFinal: Bool { self == .finished || self == .failed || self == .cancelled }
}

/// A job as submitted by the front. Paths are relative to the storage folder every process shares.
public struct NewJob: Sendable, Equatable {
    public var id: String
    public var inputName: String
    public var sourcePath: String
    public var outputPath: String
    public var downloadName: String
    public var inferenceSteps: Int
    public var quality: String
    public var frameCount: Int
    public var width: Int
    public var height: Int
    /// Frames per chunk; 0 runs the whole video as one stream.
    public var chunkFrames: Int
    /// Frames run before each chunk's first frame (outputs discarded) to rebuild the temporal state.
    public var warmupFrames: Int

    public init(id: String = UUID().uuidString.lowercased(), inputName: String, sourcePath: String, outputPath: String,
                downloadName: String, inferenceSteps: Int, quality: String, frameCount: Int, width: Int, height: Int,
                chunkFrames: Int, warmupFrames: Int) {
        self.id = id
        self.inputName = inputName
        self.sourcePath = sourcePath
        self.outputPath = outputPath
        self.downloadName = downloadName
        self.inferenceSteps = inferenceSteps
        self.quality = quality
        self.frameCount = frameCount
        self.width = width
        self.height = height
        self.chunkFrames = chunkFrames
        self.warmupFrames = warmupFrames
    }
}

/// A job and its progress as the queue knows it.
public struct JobRecord: Sendable, Equatable {
    public var job: NewJob
    public var state: JobState
    /// Frames of finished chunks plus the frames running chunks reported (warm-up frames not counted).
    public var framesDone: Int
    /// Mean over the running chunks' latest reports.
    public var secondsPerFrame: Double?
    public var runningTasks: Int
    /// 1 = next to start; nil unless queued.
    public var queuePosition: Int?
    public var message: String?
    public var createdAt: Date
    public var finishedAt: Date?

    public init(job: NewJob, state: JobState, framesDone: Int = 0, secondsPerFrame: Double? = nil, runningTasks: Int = 0,
                queuePosition: Int? = nil, message: String? = nil, createdAt: Date = Date(), finishedAt: Date? = nil) {
        self.job = job
        self.state = state
        self.framesDone = framesDone
        self.secondsPerFrame = secondsPerFrame
        self.runningTasks = runningTasks
        self.queuePosition = queuePosition
        self.message = message
        self.createdAt = createdAt
        self.finishedAt = finishedAt
    }
}

/// What a claimed task asks the worker to do.
public enum TaskWork: Sendable, Equatable {
    case chunk(ChunkRange)
    /// Join the job's `chunkCount` encoded chunks into its output.
    case join(chunkCount: Int)
}

extension TaskWork {
    public var isChunk: Bool {
        if case .chunk = self { return true }
        return false
    }
}

/// A task held under a lease. `token` identifies this claim: a worker whose lease expired and was
/// claimed again cannot renew, complete, fail or release the task any more.
public struct ClaimedTask: Sendable, Equatable {
    public let taskID: Int64
    public let token: String
    public let job: NewJob
    public let work: TaskWork
    /// 1 for the first claim; a task reclaimed after an expired lease counts up.
    public let attempt: Int
    public let jobCreatedAt: Date
}

public enum LeaseStatus: Sendable, Equatable {
    case held
    /// The lease expired and another worker claimed the task (or it was already completed).
    case lost
    /// The job was cancelled or failed elsewhere: stop and drop the work.
    case jobEnded
}

/// Counts for /metrics and the page.
public struct QueueDepth: Sendable, Equatable {
    public var queuedTasks: Int
    public var runningTasks: Int
    public var jobs: [JobState: Int]

    public init(queuedTasks: Int, runningTasks: Int, jobs: [JobState: Int]) {
        self.queuedTasks = queuedTasks
        self.runningTasks = runningTasks
        self.jobs = jobs
    }
}

public enum JobQueueError: Error, CustomStringConvertible, Equatable {
    case invalidJob(String)
    case invalidQueueURL(String)
    case schemaTooNew(found: Int, supported: Int)

    public var description: String {
        switch self {
        case .invalidJob(let reason): return "invalid job: \(reason)"
        case .invalidQueueURL(let reason): return "--queue: \(reason)"
        case .schemaTooNew(let found, let supported):
            return "the queue database has schema version \(found), newer than this program's \(supported): upgrade this program"
        }
    }
}

/// The queue shared by the front (submit, watch, cancel) and the workers (claim, heartbeat, finish).
public protocol JobQueueBackend: Sendable {
    /// Stores the job with its chunk tasks (all queued) and its join task (waiting for the chunks).
    func submit(_ job: NewJob) async throws -> JobRecord
    func job(_ id: String) async throws -> JobRecord?
    /// Cancels a job that is not over: waiting tasks are dropped, running ones stop at their next heartbeat.
    /// False when the job is unknown or already over.
    func cancel(_ id: String) async throws -> Bool
    /// The oldest claimable task: a queued one, or a running one whose lease expired. Tasks whose lease
    /// expired `maxAttempts` times fail with their job instead.
    func claim(worker: String, lease: Duration) async throws -> ClaimedTask?
    /// Renews the lease and records the task's progress (frames done of the chunk, not counting warm-up).
    func heartbeat(_ task: ClaimedTask, lease: Duration, framesDone: Int, secondsPerFrame: Double?) async throws -> LeaseStatus
    /// Marks the task done. True exactly once per task; false when the lease was lost (the work is dropped).
    /// Completing a job's last chunk queues its join; completing the join finishes the job.
    func complete(_ task: ClaimedTask) async throws -> Bool
    /// Fails the task and its job with a one-line message.
    func fail(_ task: ClaimedTask, message: String) async throws
    /// Gives the task back unfinished (a draining worker): queued again, the attempt not counted.
    func release(_ task: ClaimedTask) async throws
    func depth() async throws -> QueueDepth
}

/// How many times a task's lease may expire before the task is given up as failing every worker.
public let maxTaskAttempts = 3

/// Why a job failed when its task exhausted `maxTaskAttempts`.
let exhaustedTaskMessage = "workers stopped while running this job \(maxTaskAttempts) times (their leases expired)"
