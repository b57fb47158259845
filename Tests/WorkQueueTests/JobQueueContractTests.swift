// The queue's rules, checked on both implementations (in-process, and PostgreSQL on a throwaway server):
// claims are exclusive under concurrency, an expired lease is claimed again and the old holder can no
// longer change the task, every task completes exactly once, the join is queued exactly once by the
// last chunk, releases and cancellations, and tasks that keep killing workers fail their job.
import Foundation
import Logging
import TestSupport
import WorkQueue
import XCTest

/// The shared checks; each implementation's test class runs every one (Linux's test discovery does not
/// list inherited test methods, so the subclasses name them).
class JobQueueContractTests: XCTestCase {
    /// The implementation under test; a fresh, empty queue per call.
    func makeQueue() async throws -> JobQueueBackend { InProcessJobQueue() }

    /// Completion counts of every task of a job, where the implementation can tell.
    func completionCounts(_ queue: JobQueueBackend, job: String) async throws -> [Int]? { nil }

    func newJob(frames: Int, chunk: Int, warmup: Int = 2) -> NewJob {
        NewJob(inputName: "clip.mp4", sourcePath: "jobs/x/source.mp4", outputPath: "outputs/x.mp4", downloadName: "clip_x4.mp4",
               inferenceSteps: 2, quality: "standard", frameCount: frames, width: 32, height: 24, chunkFrames: chunk, warmupFrames: warmup)
    }

    func checkChunksThenOneJoinAndProgress() async throws {
        let queue = try await makeQueue()
        let submitted = try await queue.submit(newJob(frames: 10, chunk: 4))
        XCTAssertEqual(submitted.state, .queued)
        XCTAssertEqual(submitted.queuePosition, 1)
        var chunks: [ChunkRange] = []
        var claimed: [ClaimedTask] = []
        while let task = try await queue.claim(worker: "w", lease: .seconds(30)) {
            guard case .chunk(let chunk) = task.work else { return XCTFail("the join was claimable before the chunks were done") }
            chunks.append(chunk)
            claimed.append(task)
        }
        XCTAssertEqual(chunks, try ChunkPlan.split(frameCount: 10, chunkFrames: 4, warmupFrames: 2))
        XCTAssertEqual(chunks.map(\.warmupFrom), [0, 2, 6])
        XCTAssertEqual(chunks.map(\.isLast), [false, false, true])
        let lease = try await queue.heartbeat(claimed[1], lease: .seconds(30), framesDone: 3, secondsPerFrame: 0.5)
        XCTAssertEqual(lease, .held)
        let running = try await queue.job(submitted.job.id)
        XCTAssertEqual(running?.state, .running)
        XCTAssertEqual(running?.framesDone, 3)
        XCTAssertEqual(running?.secondsPerFrame, 0.5)
        XCTAssertEqual(running?.runningTasks, 3)
        XCTAssertNil(running?.queuePosition)

        for task in claimed.reversed() { let completed = try await queue.complete(task); XCTAssertTrue(completed) }
        let framesDone = try await queue.job(submitted.job.id)?.framesDone
        XCTAssertEqual(framesDone, 10)
        let joinClaim = try await queue.claim(worker: "w", lease: .seconds(30))
        let join = try XCTUnwrap(joinClaim)
        XCTAssertEqual(join.work, .join(chunkCount: 3))
        let noMore = try await queue.claim(worker: "w", lease: .seconds(30))
        XCTAssertNil(noMore)
        let completed2 = try await queue.complete(join)
        XCTAssertTrue(completed2)
        let finished = try await queue.job(submitted.job.id)
        XCTAssertEqual(finished?.state, .finished)
        XCTAssertNotNil(finished?.finishedAt)
        // A second completion of any task is refused.
        for task in claimed + [join] { let completed3 = try await queue.complete(task); XCTAssertFalse(completed3) }
        if let counts = try await completionCounts(queue, job: submitted.job.id) { XCTAssertEqual(counts, [1, 1, 1, 1]) }
        let depth = try await queue.depth()
        XCTAssertEqual(depth.queuedTasks, 0)
        XCTAssertEqual(depth.jobs[.finished], 1)
    }

    /// Four workers race over 3 jobs x 8 chunks, claiming and completing as fast as they can: no task is
    /// handed out twice while leased, every task completes once, every job finishes.
    func checkConcurrentClaimsAreExclusive() async throws {
        let queue = try await makeQueue()
        var jobs: [String] = []
        for _ in 0..<3 { jobs.append(try await queue.submit(newJob(frames: 16, chunk: 2)).job.id) }
        let claims = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var mine: [Int64] = []
                    var idleRounds = 0
                    while idleRounds < 20 {
                        guard let task = try await queue.claim(worker: "w\(worker)", lease: .seconds(60)) else {
                            idleRounds += 1
                            try await Task.sleep(for: .milliseconds(10))
                            continue
                        }
                        idleRounds = 0
                        mine.append(task.taskID)
                        let completed = try await queue.complete(task)
                        XCTAssertTrue(completed, "a held task could not complete")
                    }
                    return mine
                }
            }
            var all: [Int64] = []
            for try await mine in group { all += mine }
            return all
        }
        XCTAssertEqual(claims.count, 3 * 9, "each of 8 chunks and the join of 3 jobs, once")
        XCTAssertEqual(Set(claims).count, claims.count, "a task was claimed twice")
        for job in jobs {
            let state = try await queue.job(job)?.state
            XCTAssertEqual(state, .finished)
            if let counts = try await completionCounts(queue, job: job) { XCTAssertEqual(counts, Array(repeating: 1, count: 9)) }
        }
    }

    func checkExpiredLeaseIsClaimedAgainAndTheOldHolderIsLockedOut() async throws {
        let queue = try await makeQueue()
        let job = try await queue.submit(newJob(frames: 3, chunk: 0)).job.id
        let claimed = try await queue.claim(worker: "killed", lease: .milliseconds(300))
        let first = try XCTUnwrap(claimed)
        XCTAssertEqual(first.attempt, 1)
        let whileLeased = try await queue.claim(worker: "other", lease: .seconds(30))
        XCTAssertNil(whileLeased, "a leased task was handed out again")
        try await Task.sleep(for: .milliseconds(600))
        let claimed2 = try await queue.claim(worker: "other", lease: .seconds(30))
        let second = try XCTUnwrap(claimed2)
        XCTAssertEqual(second.taskID, first.taskID)
        XCTAssertEqual(second.attempt, 2)
        XCTAssertNotEqual(second.token, first.token)
        let lease = try await queue.heartbeat(first, lease: .seconds(30), framesDone: 1, secondsPerFrame: nil)
        XCTAssertEqual(lease, .lost)
        let completed = try await queue.complete(first)
        XCTAssertFalse(completed)
        try await queue.fail(first, message: "stale worker must not fail the job")
        try await queue.release(first)
        let state = try await queue.job(job)?.state
        XCTAssertEqual(state, .running)
        let completed2 = try await queue.complete(second)
        XCTAssertTrue(completed2)
        let claimed3 = try await queue.claim(worker: "other", lease: .seconds(30))
        let join = try XCTUnwrap(claimed3)
        let completed3 = try await queue.complete(join)
        XCTAssertTrue(completed3)
        let state2 = try await queue.job(job)?.state
        XCTAssertEqual(state2, .finished)
        if let counts = try await completionCounts(queue, job: job) { XCTAssertEqual(counts, [1, 1]) }
    }

    func checkATaskThatKeepsLosingItsWorkerFailsTheJob() async throws {
        let queue = try await makeQueue()
        let job = try await queue.submit(newJob(frames: 3, chunk: 0)).job.id
        for attempt in 1...maxTaskAttempts {
            let claimed = try await queue.claim(worker: "crashing", lease: .milliseconds(100))
            let task = try XCTUnwrap(claimed)
            XCTAssertEqual(task.attempt, attempt)
            try await Task.sleep(for: .milliseconds(250))
        }
        let none = try await queue.claim(worker: "next", lease: .seconds(30))
        XCTAssertNil(none)
        let failed = try await queue.job(job)
        XCTAssertEqual(failed?.state, .failed)
        XCTAssertTrue(failed?.message?.contains("leases expired") ?? false, failed?.message ?? "no message")
    }

    func checkReleaseRequeuesWithoutCountingAndCancelStopsHolders() async throws {
        let queue = try await makeQueue()
        let job = try await queue.submit(newJob(frames: 6, chunk: 3)).job.id
        let claimed = try await queue.claim(worker: "draining", lease: .seconds(30))
        let task = try XCTUnwrap(claimed)
        try await queue.release(task)
        let claimed2 = try await queue.claim(worker: "next", lease: .seconds(30))
        let again = try XCTUnwrap(claimed2)
        XCTAssertEqual(again.taskID, task.taskID)
        XCTAssertEqual(again.attempt, 1, "a release is not a failed attempt")
        let cancelled = try await queue.cancel(job)
        XCTAssertTrue(cancelled)
        let cancelled2 = try await queue.cancel(job)
        XCTAssertFalse(cancelled2, "a job is cancelled once")
        let lease = try await queue.heartbeat(again, lease: .seconds(30), framesDone: 1, secondsPerFrame: 1)
        XCTAssertEqual(lease, .jobEnded)
        let completed = try await queue.complete(again)
        XCTAssertFalse(completed)
        let nothing = try await queue.claim(worker: "next", lease: .seconds(30))
        XCTAssertNil(nothing, "a cancelled job's chunk was handed out")
        let state = try await queue.job(job)?.state
        XCTAssertEqual(state, .cancelled)
        let unknown = try await queue.job(UUID().uuidString.lowercased())
        XCTAssertNil(unknown)
    }

    func checkFailureEndsTheJobWithItsMessage() async throws {
        let queue = try await makeQueue()
        let job = try await queue.submit(newJob(frames: 6, chunk: 2)).job.id
        let claimed = try await queue.claim(worker: "w", lease: .seconds(30))
        let task = try XCTUnwrap(claimed)
        try await queue.fail(task, message: "clip.mp4: decoder stopped")
        let failed = try await queue.job(job)
        XCTAssertEqual(failed?.state, .failed)
        XCTAssertEqual(failed?.message, "clip.mp4: decoder stopped")
        let next = try await queue.claim(worker: "w", lease: .seconds(30))
        XCTAssertNil(next)
    }

    func checkQueuePositionsFollowSubmission() async throws {
        let queue = try await makeQueue()
        var ids: [String] = []
        for _ in 0..<3 { ids.append(try await queue.submit(newJob(frames: 2, chunk: 0)).job.id) }
        var positions: [Int?] = []
        for id in ids { positions.append(try await queue.job(id)?.queuePosition) }
        XCTAssertEqual(positions, [1, 2, 3])
        _ = try await queue.claim(worker: "w", lease: .seconds(30))
        positions = []
        for id in ids { positions.append(try await queue.job(id)?.queuePosition) }
        XCTAssertEqual(positions, [nil, 1, 2])
    }
}

final class InProcessJobQueueTests: JobQueueContractTests {
    func testChunksThenOneJoinAndProgress() async throws { try await checkChunksThenOneJoinAndProgress() }
    func testConcurrentClaimsAreExclusive() async throws { try await checkConcurrentClaimsAreExclusive() }
    func testExpiredLeaseIsClaimedAgainAndTheOldHolderIsLockedOut() async throws { try await checkExpiredLeaseIsClaimedAgainAndTheOldHolderIsLockedOut() }
    func testATaskThatKeepsLosingItsWorkerFailsTheJob() async throws { try await checkATaskThatKeepsLosingItsWorkerFailsTheJob() }
    func testReleaseRequeuesWithoutCountingAndCancelStopsHolders() async throws { try await checkReleaseRequeuesWithoutCountingAndCancelStopsHolders() }
    func testFailureEndsTheJobWithItsMessage() async throws { try await checkFailureEndsTheJobWithItsMessage() }
    func testQueuePositionsFollowSubmission() async throws { try await checkQueuePositionsFollowSubmission() }
}

/// The same rules on PostgreSQL, each test on a database of its own.
final class PostgresJobQueueTests: JobQueueContractTests {
    private var opened: [PostgresJobQueue] = []
    /// A fresh database per test, made in the synchronous set-up: the tools it runs are waited for with
    /// Foundation's Process, which must not block a Swift concurrency thread.
    private var databaseURL: String!

    override func setUpWithError() throws {
        try super.setUpWithError()
        databaseURL = try TemporaryPostgres.shared().makeDatabase()
    }

    func testChunksThenOneJoinAndProgress() async throws { try await checkChunksThenOneJoinAndProgress() }
    func testConcurrentClaimsAreExclusive() async throws { try await checkConcurrentClaimsAreExclusive() }
    func testExpiredLeaseIsClaimedAgainAndTheOldHolderIsLockedOut() async throws { try await checkExpiredLeaseIsClaimedAgainAndTheOldHolderIsLockedOut() }
    func testATaskThatKeepsLosingItsWorkerFailsTheJob() async throws { try await checkATaskThatKeepsLosingItsWorkerFailsTheJob() }
    func testReleaseRequeuesWithoutCountingAndCancelStopsHolders() async throws { try await checkReleaseRequeuesWithoutCountingAndCancelStopsHolders() }
    func testFailureEndsTheJobWithItsMessage() async throws { try await checkFailureEndsTheJobWithItsMessage() }
    func testQueuePositionsFollowSubmission() async throws { try await checkQueuePositionsFollowSubmission() }

    override func makeQueue() async throws -> JobQueueBackend {
        let queue = try await PostgresJobQueue.connect(url: databaseURL, logger: Logger(label: "test"))
        opened.append(queue)
        return queue
    }

    override func completionCounts(_ queue: JobQueueBackend, job: String) async throws -> [Int]? {
        try await (queue as! PostgresJobQueue).completionCounts(job: job)
    }

    override func tearDown() {
        for queue in opened { queue.shutdown() }
        opened = []
        super.tearDown()
    }

    /// Every process migrates at start, several at once: each version is applied once, a second run does nothing.
    func testMigrationsAreVersionedAndIdempotent() async throws {
        let url = databaseURL!
        let logger = Logger(label: "test")
        let queues = try await withThrowingTaskGroup(of: PostgresJobQueue.self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresJobQueue.connect(url: url, logger: logger) } }
            var all: [PostgresJobQueue] = []
            for try await queue in group { all.append(queue) }
            return all
        }
        opened += queues
        let again = try await SchemaMigrations.migrate(queues[0].client, logger: logger)
        XCTAssertEqual(again, [], "an up-to-date schema was migrated again")
        let versions = try await queues[0].client.query("SELECT version FROM sdv_schema_migrations ORDER BY version").collect()
            .map { try $0.decode(Int.self) }
        XCTAssertEqual(versions, Array(1...SchemaMigrations.latestVersion))
        // A database from a newer program is refused with one clear line.
        try await queues[0].client.query("INSERT INTO sdv_schema_migrations (version) VALUES (999)")
        do {
            _ = try await SchemaMigrations.migrate(queues[0].client, logger: logger)
            XCTFail("a newer schema was accepted")
        } catch let error as JobQueueError {
            XCTAssertEqual(error, .schemaTooNew(found: 999, supported: SchemaMigrations.latestVersion))
        }
    }

    func testURLsAreCheckedAndPasswordsNeverShown() throws {
        XCTAssertThrowsError(try PostgresJobQueue.configuration(url: "mysql://x@y/z"))
        XCTAssertThrowsError(try PostgresJobQueue.configuration(url: "postgres://u@h/d?sslmode=sometimes"))
        let configuration = try PostgresJobQueue.configuration(url: "postgres://user:s%40cret@db.example:6543/jobs?sslmode=disable")
        XCTAssertEqual(configuration.host, "db.example")
        XCTAssertEqual(configuration.port, 6543)
        XCTAssertEqual(configuration.password, "s@cret")
        XCTAssertEqual(configuration.database, "jobs")
        XCTAssertFalse(PostgresJobQueue.redacted("postgres://user:s3cret@h/d").contains("s3cret"))
    }
}
