import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import Media
import NIOCore
import WorkQueue
import XCTest
@testable import WebApp

/// `serve --queue` and `worker` in one process, on the in-process queue with the nearest-neighbour
/// stand-in: the page's API, a video split into chunks with warm-up frames and joined, /metrics on
/// both sides, and a draining worker handing its chunk back. (The PostgreSQL queue and the real model
/// run in separate processes in StreamDiffVSRTests.ScaleOutTests.)
final class QueueFrontTests: WebAppTestCase {
    var storage: SharedStorage!

    override func setUpWithError() throws {
        try super.setUpWithError()
        storage = try SharedStorage(root: scratch.appendingPathComponent("storage").path)
    }

    func makeWorker(_ queue: JobQueueBackend, provider: UpscalerProvider = NearestProvider(), drainSeconds: Double = 20,
                    metrics: QueueMetrics = QueueMetrics()) -> QueueWorker {
        var settings = QueueWorker.Settings(name: "test-worker")
        settings.pollInterval = .milliseconds(20)
        settings.lease = .seconds(3)
        settings.drainSeconds = drainSeconds
        return QueueWorker(queue: queue, provider: provider, storage: storage, tools: tools, metrics: metrics, settings: settings,
                           logger: Logger(label: "test"))
    }

    func testChunkedJobThroughTheFrontAndAWorker() async throws {
        let clip = try makeClipWithAudio()
        let queue = InProcessJobQueue()
        let front = try QueueWebServer(configuration: configuration(), settings: .init(chunkFrames: 4, warmupFrames: 2), queue: queue,
                                       storage: storage, tools: tools)
        let workerMetrics = QueueMetrics()
        let worker = makeWorker(queue, metrics: workerMetrics)
        let running = Task { try await worker.run() }
        defer { worker.drain() }
        try await front.makeApplication().test(.live) { [self] client in
            struct Reply: Decodable { let id: String }
            let upload = try json(Reply.self, try await upload(client, path: clip, name: "clip.mp4"))
            let job = try await startJob(client, upload: upload.id, steps: 2)
            let events = try await events(client, job: job.id)
            let final = try XCTUnwrap(events.last)
            XCTAssertEqual(final.state, .finished, final.message ?? "")
            XCTAssertEqual(final.framesDone, 10)
            XCTAssertEqual(final.outputWidth, 128)
            let counts = events.map(\.framesDone)
            XCTAssertEqual(counts, counts.sorted(), "progress went backwards")

            let download = try await client.execute(uri: try XCTUnwrap(final.resultURL) + "?download=1", method: .get)
            XCTAssertEqual(download.headers[.contentDisposition], "attachment; filename=\"clip_x4.mp4\"")
            let saved = scratch.appendingPathComponent("result.mp4").path
            try Data(buffer: download.body).write(to: URL(fileURLWithPath: saved))
            let streams = try probeStreams(saved)
            XCTAssertEqual(streams.first { $0.codec_type == "video" }?.nb_read_frames, "10")
            XCTAssertEqual(streams.first { $0.codec_type == "video" }?.r_frame_rate, "12/1")
            XCTAssertTrue(streams.contains { $0.codec_type == "audio" }, "the source audio was not joined in")
            // Every frame is the stand-in's output of the matching source frame (x264 at CRF 16 keeps it close).
            let source = try decode(clip)
            let result = try decode(saved)
            XCTAssertEqual(result.count, source.count)
            for (index, (input, output)) in zip(source, result).enumerated() {
                XCTAssertGreaterThan(psnr(NearestUpscaler.nearest(input), output), 35, "frame \(index) is not its own upscaled frame")
            }
            // Chunks, sources and scratch are gone; the result stays.
            XCTAssertEqual(contents(of: storage.root + "/jobs"), [])
            XCTAssertEqual(contents(of: storage.outputs).count, 1)

            let metrics = try await client.execute(uri: "/metrics", method: .get)
            XCTAssertEqual(metrics.headers[.contentType], "text/plain; version=0.0.4; charset=utf-8")
            let text = String(buffer: metrics.body)
            XCTAssertTrue(text.contains("# TYPE stream_diffvsr_queue_depth gauge\nstream_diffvsr_queue_depth 0"), text)
            XCTAssertTrue(text.contains("stream_diffvsr_jobs{state=\"finished\"} 1"), text)
        }
        // 10 frames + 2 warm-up frames before each of the chunks at 4 and 8; three chunks and the join.
        let workerText = workerMetrics.exposition()
        XCTAssertTrue(workerText.contains("stream_diffvsr_frames_total 14"), workerText)
        XCTAssertTrue(workerText.contains("stream_diffvsr_tasks_total{outcome=\"completed\"} 4"), workerText)
        XCTAssertTrue(workerText.contains("stream_diffvsr_job_seconds_count 1"), workerText)
        worker.drain()
        try await running.value
    }

    func testADrainingWorkerReleasesItsChunkAndAnotherFinishesIt() async throws {
        let clip = try makeClipWithAudio()
        let queue = InProcessJobQueue()
        let front = try QueueWebServer(configuration: configuration(), settings: .init(chunkFrames: 0, warmupFrames: 0), queue: queue,
                                       storage: storage, tools: tools)
        let metrics = QueueMetrics()
        // 0.3 s a frame, 10 frames: far more than the 0.5 s the drain allows.
        let slow = makeWorker(queue, provider: NearestProvider(secondsPerFrame: 0.3), drainSeconds: 0.5, metrics: metrics)
        let slowRun = Task { try await slow.run() }
        try await front.makeApplication().test(.live) { [self] client in
            struct Reply: Decodable { let id: String }
            let upload = try json(Reply.self, try await upload(client, path: clip, name: "clip.mp4"))
            let job = try await startJob(client, upload: upload.id)
            let started = try await poll(client, job: job.id) { $0.state == .running }
            XCTAssertEqual(started.state, .running)
            slow.drain()
            try await slowRun.value
            XCTAssertTrue(metrics.exposition().contains("stream_diffvsr_tasks_total{outcome=\"released\"} 1"), metrics.exposition())
            let depth = try await queue.depth()
            XCTAssertEqual(depth.queuedTasks, 1, "the released chunk is queued again")

            let next = makeWorker(queue)
            let nextRun = Task { try await next.run() }
            let statuses = try await events(client, job: job.id)
            let final = try XCTUnwrap(statuses.last)
            XCTAssertEqual(final.state, .finished, final.message ?? "")
            next.drain()
            try await nextRun.value
        }
    }

    func testStoragePathsCannotLeaveTheStorage() throws {
        for hostile in ["/etc/passwd", "../x", "jobs/../../x", "jobs//x", "", "jobs/./x"] {
            XCTAssertThrowsError(try storage.resolve(hostile), hostile)
        }
        XCTAssertEqual(try storage.resolve("outputs/a.mp4"), storage.root + "/outputs/a.mp4")
    }

    func testUnknownJobsAreNotFound() async throws {
        let front = try QueueWebServer(configuration: configuration(), settings: .init(chunkFrames: 4, warmupFrames: 2),
                                       queue: InProcessJobQueue(), storage: storage, tools: tools)
        try await front.makeApplication().test(.live) { client in
            for id in ["not-a-uuid", UUID().uuidString] {
                let response = try await client.execute(uri: "/api/jobs/\(id)", method: .get)
                XCTAssertEqual(response.status, .notFound)
            }
        }
    }

    private func decode(_ path: String) throws -> [RGBImage] {
        let reader = try VideoFrameReader(path: path, tools: tools)
        var frames: [RGBImage] = []
        while let frame = try reader.nextFrame() { frames.append(frame) }
        return frames
    }

    private func psnr(_ a: RGBImage, _ b: RGBImage) -> Double {
        guard a.width == b.width, a.height == b.height else { return 0 }
        var sum = 0.0
        for (x, y) in zip(a.pixels, b.pixels) {
            let difference = Double(x) - Double(y)
            sum += difference * difference
        }
        let mse = sum / Double(a.pixels.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }
}
