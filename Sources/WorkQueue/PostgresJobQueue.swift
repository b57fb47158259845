import Foundation
import Logging
import PostgresNIO

/// The queue in PostgreSQL, shared by one front and any number of workers on any machines. Claims take
/// the oldest claimable task row with `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on each
/// other nor take the same task; a lease is a row's expiry time, renewed by heartbeats; everything that
/// ends a task checks the claim's token in the same statement, so a worker that lost its lease changes
/// nothing. Completions of one job's tasks lock the job row first, so exactly one of them queues the join
/// however many chunks finish at once; a CHECK constraint makes a second completion of a task impossible.
public final class PostgresJobQueue: JobQueueBackend {
    public let client: PostgresClient
    private let runner: Task<Void, Never>
    let logger: Logger

    private init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        runner = Task { await client.run() }
    }

    /// Connects (`postgres://user:password@host:port/database`, `?sslmode=disable|prefer|require`) and
    /// brings the schema up to date.
    public static func connect(url: String, logger: Logger) async throws -> PostgresJobQueue {
        let queue = PostgresJobQueue(client: PostgresClient(configuration: try configuration(url: url), backgroundLogger: logger), logger: logger)
        do {
            try await SchemaMigrations.migrate(queue.client, logger: logger)
        } catch {
            queue.shutdown()
            throw error
        }
        return queue
    }

    public func shutdown() {
        runner.cancel()
    }

    public static func configuration(url text: String) throws -> PostgresClient.Configuration {
        guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? "") else {
            throw JobQueueError.invalidQueueURL("expected postgres://user:password@host:port/database, got \(redacted(text))")
        }
        guard let host = url.host, !host.isEmpty else { throw JobQueueError.invalidQueueURL("no host in \(redacted(text))") }
        let user = url.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        let password = url.password.flatMap { $0.removingPercentEncoding }
        let database = url.path.count > 1 ? String(url.path.dropFirst()) : nil
        let tls: PostgresClient.Configuration.TLS
        switch url.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer" {
        case "disable": tls = .disable
        case "require": tls = .require(.makeClientConfiguration())
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case let other: throw JobQueueError.invalidQueueURL("sslmode must be disable, prefer or require, got \(other)")
        }
        var configuration = PostgresClient.Configuration(host: host, port: url.port ?? 5432, username: user, password: password,
                                                         database: database, tls: tls)
        configuration.options.maximumConnections = 8
        return configuration
    }

    /// The URL without its password, for messages and logs.
    public static func redacted(_ text: String) -> String {
        guard var url = URLComponents(string: text), url.password != nil else { return text }
        url.password = "***"
        return url.string ?? "<invalid URL>"
    }

    // MARK: - Front

    public func submit(_ job: NewJob) async throws -> JobRecord {
        let chunks = try ChunkPlan.split(frameCount: job.frameCount, chunkFrames: job.chunkFrames, warmupFrames: job.warmupFrames)
        try await inTransaction(client, logger: logger) { connection in
            try await connection.query("""
                INSERT INTO sdv_jobs (id, input_name, source_path, output_path, download_name, inference_steps, quality,
                                      frame_count, width, height, chunk_frames, warmup_frames)
                VALUES (\(job.id), \(job.inputName), \(job.sourcePath), \(job.outputPath), \(job.downloadName), \(job.inferenceSteps),
                        \(job.quality), \(job.frameCount), \(job.width), \(job.height), \(job.chunkFrames), \(job.warmupFrames))
                """, logger: logger)
            try await connection.query("""
                INSERT INTO sdv_tasks (job_id, kind, chunk_index, warmup_from, first_frame, end_frame, is_last, state)
                SELECT \(job.id), 'chunk', c.i, c.w, c.f, c.e, c.e = \(job.frameCount), 'queued'
                FROM unnest(\(chunks.map(\.index))::bigint[], \(chunks.map(\.warmupFrom))::bigint[],
                            \(chunks.map(\.firstFrame))::bigint[], \(chunks.map(\.endFrame))::bigint[]) AS c(i, w, f, e)
                ORDER BY c.i
                """, logger: logger)
            try await connection.query("""
                INSERT INTO sdv_tasks (job_id, kind, chunk_index, warmup_from, first_frame, end_frame, is_last, state)
                VALUES (\(job.id), 'join', \(chunks.count), 0, 0, \(job.frameCount), true, 'waiting')
                """, logger: logger)
        }
        guard let record = try await self.job(job.id) else { throw JobQueueError.invalidJob("job \(job.id) vanished") }
        return record
    }

    public func job(_ id: String) async throws -> JobRecord? {
        let rows = try await client.query("""
            SELECT j.id, j.state, j.input_name, j.source_path, j.output_path, j.download_name, j.inference_steps, j.quality,
                   j.frame_count, j.width, j.height, j.chunk_frames, j.warmup_frames, j.message, j.created_at, j.finished_at,
                   COALESCE(SUM(CASE WHEN t.kind = 'chunk' AND t.state = 'done' THEN t.end_frame - t.first_frame
                                     WHEN t.kind = 'chunk' AND t.state = 'running' THEN t.frames_done ELSE 0 END), 0)::bigint AS frames_done,
                   AVG(t.seconds_per_frame) FILTER (WHERE t.state = 'running') AS seconds_per_frame,
                   COUNT(t.id) FILTER (WHERE t.state = 'running') AS running_tasks,
                   CASE WHEN j.state = 'queued' THEN (SELECT COUNT(*) FROM sdv_jobs q WHERE q.state = 'queued' AND q.seq <= j.seq) END AS position
            FROM sdv_jobs j LEFT JOIN sdv_tasks t ON t.job_id = j.id
            WHERE j.id = \(id)
            GROUP BY j.id
            """, logger: logger).collect()
        guard let row = rows.first?.makeRandomAccess() else { return nil }
        let job = NewJob(id: try row["id"].decode(String.self), inputName: try row["input_name"].decode(String.self),
                         sourcePath: try row["source_path"].decode(String.self), outputPath: try row["output_path"].decode(String.self),
                         downloadName: try row["download_name"].decode(String.self),
                         inferenceSteps: try row["inference_steps"].decode(Int.self), quality: try row["quality"].decode(String.self),
                         frameCount: try row["frame_count"].decode(Int.self), width: try row["width"].decode(Int.self),
                         height: try row["height"].decode(Int.self), chunkFrames: try row["chunk_frames"].decode(Int.self),
                         warmupFrames: try row["warmup_frames"].decode(Int.self))
        return JobRecord(job: job, state: JobState(rawValue: try row["state"].decode(String.self)) ?? .failed,
                         framesDone: try row["frames_done"].decode(Int.self),
                         secondsPerFrame: try row["seconds_per_frame"].decode(Double?.self),
                         runningTasks: try row["running_tasks"].decode(Int.self), queuePosition: try row["position"].decode(Int?.self),
                         message: try row["message"].decode(String?.self), createdAt: try row["created_at"].decode(Date.self),
                         finishedAt: try row["finished_at"].decode(Date?.self))
    }

    public func cancel(_ id: String) async throws -> Bool {
        try await inTransaction(client, logger: logger) { connection in
            let rows = try await connection.query("""
                UPDATE sdv_jobs SET state = 'cancelled', finished_at = clock_timestamp()
                WHERE id = \(id) AND state IN ('queued', 'running') RETURNING id
                """, logger: logger).collect()
            guard !rows.isEmpty else { return false }
            try await Self.dropWaitingTasks(of: id, connection: connection, logger: logger)
            return true
        }
    }

    private static func dropWaitingTasks(of job: String, connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE sdv_tasks SET state = 'cancelled' WHERE job_id = \(job) AND state IN ('waiting', 'queued')",
                                   logger: logger)
    }

    public func depth() async throws -> QueueDepth {
        let tasks = try await client.query("""
            SELECT COUNT(*) FILTER (WHERE t.state = 'queued') AS queued,
                   COUNT(*) FILTER (WHERE t.state = 'running') AS running
            FROM sdv_tasks t JOIN sdv_jobs j ON j.id = t.job_id WHERE j.state IN ('queued', 'running')
            """, logger: logger).collect()
        var depth = QueueDepth(queuedTasks: 0, runningTasks: 0, jobs: [:])
        if let row = tasks.first?.makeRandomAccess() {
            depth.queuedTasks = try row["queued"].decode(Int.self)
            depth.runningTasks = try row["running"].decode(Int.self)
        }
        for try await (state, count) in try await client.query("SELECT state, COUNT(*) FROM sdv_jobs GROUP BY state", logger: logger)
            .decode((String, Int).self) {
            if let state = JobState(rawValue: state) { depth.jobs[state] = count }
        }
        return depth
    }

    // MARK: - Workers

    public func claim(worker: String, lease: Duration) async throws -> ClaimedTask? {
        try await failExhaustedTasks()
        let token = UUID().uuidString.lowercased()
        let rows = try await client.query("""
            WITH candidate AS (
                SELECT t.id FROM sdv_tasks t JOIN sdv_jobs j ON j.id = t.job_id
                WHERE j.state IN ('queued', 'running')
                  AND (t.state = 'queued' OR (t.state = 'running' AND t.lease_expires < clock_timestamp()))
                ORDER BY t.id LIMIT 1
                FOR UPDATE OF t SKIP LOCKED)
            UPDATE sdv_tasks t SET state = 'running', lease_token = \(token), lease_owner = \(worker),
                   lease_expires = clock_timestamp() + make_interval(secs => \(lease.seconds)),
                   attempts = t.attempts + 1, frames_done = 0, seconds_per_frame = NULL
            FROM candidate WHERE t.id = candidate.id
            RETURNING t.id, t.job_id, t.kind, t.chunk_index, t.warmup_from, t.first_frame, t.end_frame, t.is_last, t.attempts
            """, logger: logger).collect()
        guard let row = rows.first?.makeRandomAccess() else { return nil }
        let jobID = try row["job_id"].decode(String.self)
        try await client.query("UPDATE sdv_jobs SET state = 'running' WHERE id = \(jobID) AND state = 'queued'", logger: logger)
        guard let record = try await job(jobID) else { return nil }
        let index = try row["chunk_index"].decode(Int.self)
        let work: TaskWork
        if try row["kind"].decode(String.self) == "join" {
            work = .join(chunkCount: index)
        } else {
            work = .chunk(ChunkRange(index: index, warmupFrom: try row["warmup_from"].decode(Int.self),
                                     firstFrame: try row["first_frame"].decode(Int.self), endFrame: try row["end_frame"].decode(Int.self),
                                     isLast: try row["is_last"].decode(Bool.self)))
        }
        return ClaimedTask(taskID: try row["id"].decode(Int64.self), token: token, job: record.job, work: work,
                           attempt: try row["attempts"].decode(Int.self), jobCreatedAt: record.createdAt)
    }

    /// Tasks whose lease expired `maxTaskAttempts` times fail with their job: something in them stops
    /// every worker that tries (a crash, memory), and trying for ever would block the queue.
    private func failExhaustedTasks() async throws {
        let message = exhaustedTaskMessage
        try await inTransaction(client, logger: logger) { connection in
            let rows = try await connection.query("""
                UPDATE sdv_tasks SET state = 'failed', lease_token = NULL
                WHERE state = 'running' AND lease_expires < clock_timestamp() AND attempts >= \(maxTaskAttempts)
                RETURNING job_id
                """, logger: logger).collect()
            for row in rows {
                let job = try row.decode(String.self)
                try await connection.query("""
                    UPDATE sdv_jobs SET state = 'failed', message = \(message), finished_at = clock_timestamp()
                    WHERE id = \(job) AND state IN ('queued', 'running')
                    """, logger: logger)
                try await Self.dropWaitingTasks(of: job, connection: connection, logger: logger)
            }
        }
    }

    public func heartbeat(_ task: ClaimedTask, lease: Duration, framesDone: Int, secondsPerFrame: Double?) async throws -> LeaseStatus {
        let rows = try await client.query("""
            UPDATE sdv_tasks t SET lease_expires = clock_timestamp() + make_interval(secs => \(lease.seconds)),
                   frames_done = \(framesDone), seconds_per_frame = \(secondsPerFrame)
            FROM sdv_jobs j
            WHERE t.id = \(task.taskID) AND t.lease_token = \(task.token) AND t.state = 'running' AND j.id = t.job_id
            RETURNING j.state
            """, logger: logger).collect()
        guard let row = rows.first else { return .lost }
        return JobState(rawValue: try row.decode(String.self))?.isFinal == false ? .held : .jobEnded
    }

    public func complete(_ task: ClaimedTask) async throws -> Bool {
        try await inTransaction(client, logger: logger) { connection in
            // Serialises the completions of this job's tasks (see the type's comment).
            let job = try await connection.query("SELECT state FROM sdv_jobs WHERE id = \(task.job.id) FOR UPDATE", logger: logger).collect()
            guard let state = try job.first.map({ try $0.decode(String.self) }), state == JobState.running.rawValue else { return false }
            let done = try await connection.query("""
                UPDATE sdv_tasks SET state = 'done', completions = completions + 1, lease_token = NULL, lease_expires = NULL,
                       frames_done = end_frame - first_frame
                WHERE id = \(task.taskID) AND lease_token = \(task.token) AND state = 'running'
                RETURNING kind
                """, logger: logger).collect()
            guard let kind = try done.first.map({ try $0.decode(String.self) }) else { return false }
            if kind == "join" {
                try await connection.query("UPDATE sdv_jobs SET state = 'finished', finished_at = clock_timestamp() WHERE id = \(task.job.id)",
                                           logger: logger)
            } else {
                try await connection.query("""
                    UPDATE sdv_tasks SET state = 'queued'
                    WHERE job_id = \(task.job.id) AND kind = 'join' AND state = 'waiting'
                      AND NOT EXISTS (SELECT 1 FROM sdv_tasks c WHERE c.job_id = \(task.job.id) AND c.kind = 'chunk' AND c.state <> 'done')
                    """, logger: logger)
            }
            return true
        }
    }

    public func fail(_ task: ClaimedTask, message: String) async throws {
        try await inTransaction(client, logger: logger) { connection in
            try await connection.query("SELECT 1 FROM sdv_jobs WHERE id = \(task.job.id) FOR UPDATE", logger: logger)
            let failed = try await connection.query("""
                UPDATE sdv_tasks SET state = 'failed', lease_token = NULL
                WHERE id = \(task.taskID) AND lease_token = \(task.token) AND state = 'running' RETURNING id
                """, logger: logger).collect()
            guard !failed.isEmpty else { return }
            try await connection.query("""
                UPDATE sdv_jobs SET state = 'failed', message = \(message), finished_at = clock_timestamp()
                WHERE id = \(task.job.id) AND state IN ('queued', 'running')
                """, logger: logger)
            try await Self.dropWaitingTasks(of: task.job.id, connection: connection, logger: logger)
        }
    }

    public func release(_ task: ClaimedTask) async throws {
        try await client.query("""
            UPDATE sdv_tasks SET state = 'queued', lease_token = NULL, lease_owner = NULL, lease_expires = NULL,
                   attempts = GREATEST(attempts - 1, 0), frames_done = 0, seconds_per_frame = NULL
            WHERE id = \(task.taskID) AND lease_token = \(task.token) AND state = 'running'
            """, logger: logger)
    }

    /// How many times each task of a job completed (tests check exactly once).
    public func completionCounts(job id: String) async throws -> [Int] {
        var counts: [Int] = []
        for try await count in try await client.query("SELECT completions FROM sdv_tasks WHERE job_id = \(id) ORDER BY id", logger: logger)
            .decode(Int.self) {
            counts.append(count)
        }
        return counts
    }
}
