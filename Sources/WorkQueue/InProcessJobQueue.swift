import Foundation

/// The queue in this process's memory, with the same rules as the PostgreSQL one (leases, reclaim,
/// completion once): for tests of the workers and for a front and workers in one process.
public actor InProcessJobQueue: JobQueueBackend {
    enum TaskState: Equatable { case waiting, queued, running, done, failed, cancelled }

    struct TaskRow {
        let id: Int64
        let jobID: String
        let work: TaskWork
        var state: TaskState
        var token: String?
        var leaseExpires: Date?
        var attempts = 0
        var framesDone = 0
        var secondsPerFrame: Double?
    }

    private var jobs: [String: JobRecord] = [:]
    private var jobOrder: [String] = []
    private var tasks: [Int64: TaskRow] = [:]
    private var nextTaskID: Int64 = 1
    private let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    public func submit(_ job: NewJob) throws -> JobRecord {
        guard jobs[job.id] == nil else { throw JobQueueError.invalidJob("job \(job.id) exists already") }
        let chunks = try ChunkPlan.split(frameCount: job.frameCount, chunkFrames: job.chunkFrames, warmupFrames: job.warmupFrames)
        let record = JobRecord(job: job, state: .queued, createdAt: now())
        jobs[job.id] = record
        jobOrder.append(job.id)
        for chunk in chunks { addTask(job.id, .chunk(chunk), state: .queued) }
        addTask(job.id, .join(chunkCount: chunks.count), state: .waiting)
        return try decorated(record)
    }

    private func addTask(_ jobID: String, _ work: TaskWork, state: TaskState) {
        tasks[nextTaskID] = TaskRow(id: nextTaskID, jobID: jobID, work: work, state: state)
        nextTaskID += 1
    }

    public func job(_ id: String) throws -> JobRecord? {
        try jobs[id].map(decorated)
    }

    /// Adds what is derived from the tasks: progress, speed, running count and queue position.
    private func decorated(_ record: JobRecord) throws -> JobRecord {
        var record = record
        let own = tasks.values.filter { $0.jobID == record.job.id }
        record.framesDone = own.reduce(0) { total, task in
            guard case .chunk(let chunk) = task.work else { return total }
            return total + (task.state == .done ? chunk.frameCount : task.state == .running ? task.framesDone : 0)
        }
        let running = own.filter { $0.state == .running }
        record.runningTasks = running.count
        let speeds = running.compactMap(\.secondsPerFrame)
        record.secondsPerFrame = speeds.isEmpty ? nil : speeds.reduce(0, +) / Double(speeds.count)
        if record.state == .queued {
            let ahead = jobOrder.prefix { $0 != record.job.id }.filter { jobs[$0]?.state == .queued }.count
            record.queuePosition = ahead + 1
        } else {
            record.queuePosition = nil
        }
        return record
    }

    public func cancel(_ id: String) -> Bool {
        guard let record = jobs[id], !record.state.isFinal else { return false }
        end(id, state: .cancelled, message: nil)
        return true
    }

    private func end(_ jobID: String, state: JobState, message: String?) {
        jobs[jobID]?.state = state
        jobs[jobID]?.message = message
        jobs[jobID]?.finishedAt = now()
        for (id, task) in tasks where task.jobID == jobID && [.waiting, .queued].contains(task.state) {
            tasks[id]?.state = .cancelled
        }
    }

    public func claim(worker: String, lease: Duration) -> ClaimedTask? {
        let time = now()
        for id in tasks.keys.sorted() {
            guard var task = tasks[id] else { continue }
            let expired = task.state == .running && (task.leaseExpires ?? .distantFuture) < time
            guard task.state == .queued || expired else { continue }
            if expired && task.attempts >= maxTaskAttempts {
                tasks[id]?.state = .failed
                end(task.jobID, state: .failed, message: exhaustedTaskMessage)
                continue
            }
            guard let record = jobs[task.jobID], !record.state.isFinal else { continue }
            task.state = .running
            task.token = UUID().uuidString.lowercased()
            task.leaseExpires = time.addingTimeInterval(lease.seconds)
            task.attempts += 1
            task.framesDone = 0
            tasks[id] = task
            if record.state == .queued { jobs[task.jobID]?.state = .running }
            return ClaimedTask(taskID: id, token: task.token!, job: record.job, work: task.work, attempt: task.attempts,
                               jobCreatedAt: record.createdAt)
        }
        return nil
    }

    /// The task when `claimed` still holds its lease.
    private func held(_ claimed: ClaimedTask) -> TaskRow? {
        guard let task = tasks[claimed.taskID], task.state == .running, task.token == claimed.token else { return nil }
        return task
    }

    public func heartbeat(_ task: ClaimedTask, lease: Duration, framesDone: Int, secondsPerFrame: Double?) -> LeaseStatus {
        guard held(task) != nil else { return .lost }
        guard let record = jobs[task.job.id], !record.state.isFinal else { return .jobEnded }
        tasks[task.taskID]?.leaseExpires = now().addingTimeInterval(lease.seconds)
        tasks[task.taskID]?.framesDone = framesDone
        tasks[task.taskID]?.secondsPerFrame = secondsPerFrame
        return .held
    }

    public func complete(_ task: ClaimedTask) -> Bool {
        guard held(task) != nil, let record = jobs[task.job.id], !record.state.isFinal else { return false }
        tasks[task.taskID]?.state = .done
        tasks[task.taskID]?.token = nil
        switch task.work {
        case .chunk:
            let open = tasks.values.contains { $0.jobID == task.job.id && $0.work.isChunk && $0.state != .done }
            if !open, let join = tasks.values.first(where: { $0.jobID == task.job.id && $0.state == .waiting }) {
                tasks[join.id]?.state = .queued
            }
        case .join:
            jobs[task.job.id]?.state = .finished
            jobs[task.job.id]?.finishedAt = now()
        }
        return true
    }

    public func fail(_ task: ClaimedTask, message: String) {
        guard held(task) != nil else { return }
        tasks[task.taskID]?.state = .failed
        if let record = jobs[task.job.id], !record.state.isFinal { end(task.job.id, state: .failed, message: message) }
    }

    public func release(_ task: ClaimedTask) {
        guard let row = held(task) else { return }
        tasks[task.taskID]?.state = .queued
        tasks[task.taskID]?.token = nil
        tasks[task.taskID]?.leaseExpires = nil
        tasks[task.taskID]?.attempts = max(0, row.attempts - 1)
        tasks[task.taskID]?.framesDone = 0
    }

    public func depth() -> QueueDepth {
        var counts: [JobState: Int] = [:]
        for record in jobs.values { counts[record.state, default: 0] += 1 }
        return QueueDepth(queuedTasks: tasks.values.filter { $0.state == .queued }.count,
                          runningTasks: tasks.values.filter { $0.state == .running }.count, jobs: counts)
    }
}

extension Duration {
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
