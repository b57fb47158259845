// Scale-out on the tiny model: a chunk with warm-up frames against one uninterrupted stream (in
// process, lossless), and `serve --queue` with two `worker` processes on a throwaway PostgreSQL server,
// one of them killed with SIGKILL in the middle of a chunk.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Media
import StreamDiffVSR
import TestSupport
import VideoJobs
import XCTest

final class ScaleOutTests: XCTestCase {
    private var fixtures: URL { TinyPipeline.fixtures }
    private var work: URL!
    private var tools: FFmpegTools!

    override func setUpWithError() throws {
        guard let tools = try? FFmpegTools.locate() else { throw XCTSkip("ffmpeg/ffprobe not installed") }
        self.tools = tools
        work = FileManager.default.temporaryDirectory.appendingPathComponent("scale-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    private final class SessionUpscaler: FrameUpscaling {
        let session: StreamSession
        init(_ session: StreamSession) { self.session = session }
        func upscale(_ frame: RGBImage) throws -> RGBImage { try session.upscale(frame) }
    }

    private func session() throws -> SessionUpscaler {
        var options = SessionOptions()
        options.seed = 42
        options.numInferenceSteps = 1
        options.flowIterations = 1
        return SessionUpscaler(try TinyPipeline.load().makeSession(options))
    }

    /// `frames` frames of a moving test pattern, 32x24 at 6 fps, with a sine tone.
    private func makeClip(_ name: String, frames: Int, pattern: String = "testsrc") throws -> String {
        let path = work.appendingPathComponent(name).path
        let maker = Process()
        maker.executableURL = URL(fileURLWithPath: tools.ffmpeg)
        maker.arguments = ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "\(pattern)=size=32x24:rate=6",
                           "-f", "lavfi", "-i", "sine=frequency=440", "-frames:v", "\(frames)", "-t", "\(Double(frames) / 6)",
                           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", path]
        try maker.run()
        maker.waitUntilExit()
        XCTAssertEqual(maker.terminationStatus, 0, "ffmpeg could not make \(name)")
        return path
    }

    private func decode(_ path: String) throws -> [RGBImage] {
        let reader = try VideoFrameReader(path: path, tools: tools)
        var frames: [RGBImage] = []
        while let frame = try reader.nextFrame() { frames.append(frame) }
        return frames
    }

    /// Warm-up frames rebuild the temporal state: a chunk warmed up from the first frame gives exactly the
    /// uninterrupted stream's frames, and one without warm-up exactly a fresh stream's (ffv1 is lossless).
    func testWarmupFramesRebuildTheUninterruptedStream() throws {
        let clip = try makeClip("clip.mp4", frames: 6)
        let source = try decode(clip)
        let whole = try session()
        let uninterrupted = try source.map { try whole.upscale($0) }
        let lossless = VideoEncoderSettings(codec: .ffv1)

        let warmed = work.appendingPathComponent("warmed.mkv").path
        var progress: [ChunkRunner.Progress] = []
        let written = try ChunkRunner(input: clip, warmupFrom: 0, firstFrame: 3, endFrame: nil, encoder: lossless)
            .run(upscaler: try session(), destination: warmed, tools: tools) { progress.append($0) }
        XCTAssertEqual(written, 3)
        XCTAssertEqual(progress.map(\.warmup), [true, true, true, false, false, false])
        XCTAssertEqual(progress.map(\.framesDone), [0, 0, 0, 1, 2, 3])
        XCTAssertEqual(try decode(warmed), Array(uninterrupted[3...]), "warm-up from frame 0 must reproduce the stream")

        let cold = work.appendingPathComponent("cold.mkv").path
        try ChunkRunner(input: clip, warmupFrom: 3, firstFrame: 3, endFrame: 5, encoder: lossless)
            .run(upscaler: try session(), destination: cold, tools: tools)
        let fresh = try session()
        let restarted = try source[3..<5].map { try fresh.upscale($0) }
        XCTAssertEqual(try decode(cold), restarted)
        XCTAssertNotEqual(restarted[0], uninterrupted[3], "the tiny model's temporal state must matter, else this test proves nothing")

        // A chunk that starts past the end of the stream is an error, and leaves no file.
        let beyond = work.appendingPathComponent("beyond.mkv").path
        XCTAssertThrowsError(try ChunkRunner(input: clip, warmupFrom: 7, firstFrame: 8, endFrame: nil, encoder: lossless)
            .run(upscaler: try session(), destination: beyond, tools: tools))
        XCTAssertFalse(FileManager.default.fileExists(atPath: beyond))
    }

    // MARK: - Front and workers as processes

    private var executable: String {
        get throws {
            let candidate = Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("stream-diffvsr").path
            guard FileManager.default.isExecutableFile(atPath: candidate) else {
                throw XCTSkip("stream-diffvsr is not built next to the tests (\(candidate))")
            }
            return candidate
        }
    }

    private func start(_ arguments: [String], log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["HF_HUB_OFFLINE": "1"]) { $1 }
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    private func request(_ method: String, _ url: String, body: Data? = nil) throws -> (status: Int, body: Data, json: [String: Any]) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 60
        let semaphore = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: (Data?, URLResponse?, Error?)
        URLSession.shared.dataTask(with: request) { data, response, error in
            outcome = (data, response, error)
            semaphore.signal()
        }.resume()
        semaphore.wait()
        if let error = outcome.2 { throw error }
        let data = outcome.0 ?? Data()
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return ((outcome.1 as? HTTPURLResponse)?.statusCode ?? 0, data, json)
    }

    /// Uploads each clip and starts a job for it (1 step); returns the job ids in order.
    private func submit(_ clips: [String], to base: String) throws -> [String] {
        try clips.map { clip in
            let upload = try request("POST", base + "/api/uploads?name=\((clip as NSString).lastPathComponent)",
                                     body: Data(contentsOf: URL(fileURLWithPath: clip)))
            XCTAssertEqual(upload.status, 201, String(decoding: upload.body, as: UTF8.self))
            let id = try XCTUnwrap(upload.json["id"] as? String)
            let job = try request("POST", base + "/api/jobs", body: try JSONSerialization.data(withJSONObject: ["upload": id, "inferenceSteps": 1]))
            XCTAssertEqual(job.status, 202, String(decoding: job.body, as: UTF8.self))
            return try XCTUnwrap(job.json["id"] as? String)
        }
    }

    private func waitUntilFinished(_ jobs: [String], base: String, timeout: TimeInterval = 900) throws -> [String: String] {
        var states: [String: String] = [:]
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            Thread.sleep(forTimeInterval: 0.5)
            for job in jobs { states[job] = try request("GET", base + "/api/jobs/\(job)").json["state"] as? String ?? "" }
        } while states.values.contains(where: { !["finished", "failed", "cancelled"].contains($0) }) && Date() < deadline
        return states
    }

    private func result(_ job: String, base: String) throws -> [RGBImage] {
        let response = try request("GET", base + "/api/jobs/\(job)/result")
        XCTAssertEqual(response.status, 200)
        let path = work.appendingPathComponent("result-\(job).mp4")
        try response.body.write(to: path)
        let info = try VideoProbe.probe(path.path, tools: tools)
        XCTAssertTrue(info.hasAudio, "the source audio was not joined in")
        return try decode(path.path)
    }

    /// The issue's test: one front and two workers as separate processes on PostgreSQL, six jobs of two
    /// videos (6 frames, C = 2, W = 1: three chunks and a join each), one worker killed with SIGKILL while
    /// it holds a chunk. Every job finishes, every task completed exactly once, and each output equals the
    /// output of a single uninterrupted worker for the same video (same C and W).
    func testFrontAndTwoWorkersSurviveAKilledWorker() throws {
        let postgres = try TemporaryPostgres.shared()
        let queue = try postgres.makeDatabase()
        let storage = work.appendingPathComponent("storage").path
        let clips = [try makeClip("a.mp4", frames: 6), try makeClip("b.mp4", frames: 6, pattern: "rgbtestsrc")]
        let port = Int.random(in: 20_000..<40_000)
        let base = "http://127.0.0.1:\(port)"
        let front = try start(["serve", "--host", "127.0.0.1", "--port", "\(port)", "--queue", queue, "--storage", storage,
                               "--chunk-frames", "2", "--warmup-frames", "1"], log: work.appendingPathComponent("front.log").path)
        defer { front.terminate(); front.waitUntilExit() }
        var ready = false
        for _ in 0..<120 where !ready {
            ready = (try? request("GET", base + "/api/info"))?.status == 200
            if !ready { Thread.sleep(forTimeInterval: 0.5) }
        }
        XCTAssertTrue(ready, "the front did not start: \((try? String(contentsOfFile: work.appendingPathComponent("front.log").path, encoding: .utf8)) ?? "")")
        let workerArguments = ["worker", "--queue", queue, "--storage", storage, "--model-id", fixtures.appendingPathComponent("tiny_model").path,
                               "--flow-weights", try TinyPipeline.flowWeights().path, "--flow-iterations", "1", "--threads", "1",
                               "--lease-seconds", "3"]

        // The single-machine reference: one worker alone, to the end.
        let referenceJobs = try submit(clips, to: base)
        let alone = try start(workerArguments + ["--exit-when-idle"], log: work.appendingPathComponent("alone.log").path)
        alone.waitUntilExit()
        XCTAssertEqual(alone.terminationStatus, 0)
        XCTAssertEqual(try waitUntilFinished(referenceJobs, base: base, timeout: 30).values.sorted(), ["finished", "finished"])
        let references = try referenceJobs.map { try result($0, base: base) }
        XCTAssertEqual(references.map(\.count), [6, 6])

        let jobs = try submit(clips + clips + clips, to: base)
        let doomedLog = work.appendingPathComponent("doomed.log").path
        let doomed = try start(workerArguments, log: doomedLog)
        let survivorLog = work.appendingPathComponent("survivor.log").path
        let survivor = try start(workerArguments, log: survivorLog)
        defer { survivor.terminate(); survivor.waitUntilExit() }
        // Kill the first worker once it holds its second chunk (its first task has completed): mid-job, not at start-up.
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            let log = (try? String(contentsOfFile: doomedLog, encoding: .utf8)) ?? ""
            if log.components(separatedBy: "task claimed").count > 2 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 0.3)
        kill(doomed.processIdentifier, SIGKILL)
        doomed.waitUntilExit()
        XCTAssertEqual(doomed.terminationReason, .uncaughtSignal)

        let states = try waitUntilFinished(jobs, base: base)
        XCTAssertEqual(states.values.filter { $0 == "finished" }.count, 6, "\(states)")
        for (index, job) in jobs.enumerated() {
            XCTAssertEqual(try result(job, base: base), references[index % 2], "job \(index) differs from the single-worker run")
        }
        let survivorText = (try? String(contentsOfFile: survivorLog, encoding: .utf8)) ?? ""
        XCTAssertTrue(survivorText.contains("attempt=2"), "the killed worker's chunk was not claimed again after its lease expired")
        XCTAssertEqual(try postgres.query(queue, "SELECT count(*) FROM sdv_tasks WHERE completions <> 1"), "0", "a task completed other than once")
        XCTAssertEqual(try postgres.query(queue, "SELECT count(*) FROM sdv_tasks"), "32", "8 jobs x (3 chunks + 1 join)")

        // The survivor drains on SIGTERM and exits cleanly.
        survivor.terminate()
        survivor.waitUntilExit()
        XCTAssertEqual(survivor.terminationStatus, 0)
        let metrics = try request("GET", base + "/metrics")
        let text = String(decoding: metrics.body, as: UTF8.self)
        XCTAssertTrue(text.contains("stream_diffvsr_jobs{state=\"finished\"} 8"), text)
        XCTAssertTrue(text.contains("stream_diffvsr_queue_depth 0"), text)
    }
}
