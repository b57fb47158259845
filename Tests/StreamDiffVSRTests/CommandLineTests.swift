// The `stream-diffvsr` executable end to end on the tiny model: a folder of sequences, a video file with
// audio, and bad inputs, each checked the way a user sees them (exit status, files, one error line).

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Media
import StreamDiffVSR
import TestSupport
import XCTest

final class CommandLineTests: XCTestCase {
    private var fixtures: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)! }
    private var work: URL!

    override func setUpWithError() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: work)
    }

    /// `swift test` builds the executable next to the test bundle.
    private var executable: String {
        get throws {
            let candidate = Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("stream-diffvsr").path
            guard FileManager.default.isExecutableFile(atPath: candidate) else {
                throw XCTSkip("stream-diffvsr is not built next to the tests (\(candidate))")
            }
            return candidate
        }
    }

    /// Formula RAFT-large weights as a file, as a user would pass with --flow-weights.
    private func flowWeights() throws -> String {
        let path = work.appendingPathComponent("raft.safetensors").path
        let parameters = try FormulaWeights.parameterList(
            String(contentsOf: fixtures.appendingPathComponent("raft_large_parameters.txt"), encoding: .utf8))
        try FormulaWeights.writeSafeTensors(parameters, to: path)
        return path
    }

    private func run(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["HF_HUB_OFFLINE"] = "1"
        process.environment = environment
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
    }

    /// A half-second 32x24 test pattern with a sine tone (MKV), made by ffmpeg.
    private func makeClip(framesPerSecond: Int, tools: FFmpegTools) throws -> String {
        let clip = work.appendingPathComponent("clip.mkv").path
        let maker = Process()
        maker.executableURL = URL(fileURLWithPath: tools.ffmpeg)
        maker.arguments = ["-hide_banner", "-loglevel", "error", "-f", "lavfi",
                           "-i", "testsrc=size=32x24:rate=\(framesPerSecond):duration=0.5",
                           "-f", "lavfi", "-i", "sine=frequency=440:duration=0.5", "-shortest", clip]
        try maker.run()
        maker.waitUntilExit()
        XCTAssertEqual(maker.terminationStatus, 0, "ffmpeg could not make the test clip")
        return clip
    }

    private func frame(_ index: Int, width: Int = 24, height: Int = 20) -> RGBImage {
        RGBImage(width: width, height: height, pixels: (0..<(width * height * 3)).map { UInt8(truncatingIfNeeded: $0 * 7 + index * 13) })
    }

    private var modelArguments: [String] {
        get throws {
            ["--model-id", fixtures.appendingPathComponent("tiny_model").path, "--flow-weights", try flowWeights(),
             "--num-inference-steps", "2"]
        }
    }

    func testFolderOfSequencesLikeTheOriginal() throws {
        let input = work.appendingPathComponent("clips")
        for sequence in ["seqA", "seqB"] {
            let folder = input.appendingPathComponent(sequence)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for index in 0..<2 { try ImageFile.writePNG(frame(index), to: folder.appendingPathComponent("f\(index).png").path) }
        }
        let output = work.appendingPathComponent("out")
        let result = try run(["upscale", "--in_path", input.path, "--out_path", output.path] + modelArguments)
        XCTAssertEqual(result.status, 0, result.errors)

        // The same frames through the library give the same PNGs. The CLI's defaults are seed 42 and the
        // original's CUDA noise, one generator continued from sequence to sequence.
        let pipeline = try Pipeline(model: ModelRepository(root: fixtures.appendingPathComponent("tiny_model")),
                                    flowWeights: URL(fileURLWithPath: work.appendingPathComponent("raft.safetensors").path))
        var options = SessionOptions()
        options.seed = 42
        options.numInferenceSteps = 2
        options.torchNoise = TorchNoiseStream(source: .torchCUDA(.rtx4090), seed: 42)
        for sequence in ["seqA", "seqB"] {
            let session = try pipeline.makeSession(options)
            for index in 0..<2 {
                let written = try ImageFile.read(output.appendingPathComponent("clips/\(sequence)/f\(index).png").path)
                XCTAssertEqual(written.width, 96)
                XCTAssertEqual(written.height, 80)
                XCTAssertEqual(written, try session.upscale(frame(index)), "\(sequence)/f\(index).png")
            }
        }
    }

    /// The original pipeline run on the CPU from set_seed(42) without injected latents
    /// (tools/fixtures/gen_original_seeded_run.py: two sequences, one generator), reproduced from the seed.
    func testSeededRunReproducesTheOriginalOnTheCPU() throws {
        let fixture = fixtures.appendingPathComponent("original_seeded_run")
        let output = work.appendingPathComponent("out")
        let result = try run(["upscale", "--in_path", fixture.appendingPathComponent("input").path, "--out_path", output.path,
                              "--model-id", fixtures.appendingPathComponent("tiny_model").path, "--flow-weights", try flowWeights(),
                              "--seed", "42", "--noise", "torch-cpu"])
        XCTAssertEqual(result.status, 0, result.errors)
        var frames = 0
        for sequence in ["seqA", "seqB"] {
            let expectedFolder = fixture.appendingPathComponent("expected/\(sequence)")
            for name in try FileManager.default.contentsOfDirectory(atPath: expectedFolder.path).sorted() {
                let expected = try ImageFile.read(expectedFolder.appendingPathComponent(name).path)
                let written = try ImageFile.read(output.appendingPathComponent("input/\(sequence)/\(name)").path)
                let decibels = psnr(written, expected)
                print("seeded run \(sequence)/\(name): \(String(format: "%.1f", decibels)) dB")
                XCTAssertGreaterThanOrEqual(decibels, 60, "\(sequence)/\(name)")
                frames += 1
            }
        }
        XCTAssertEqual(frames, 5)
    }

    func testVideoFileWithAudioKeepsFrameRateAndAudio() throws {
        guard let tools = try? FFmpegTools.locate() else { throw XCTSkip("ffmpeg/ffprobe not installed") }
        let clip = try makeClip(framesPerSecond: 6, tools: tools)

        let output = work.appendingPathComponent("clip_x4.mp4").path
        let result = try run(["upscale", "--in-path", clip, "--out-path", output] + modelArguments)
        XCTAssertEqual(result.status, 0, result.errors)
        let info = try VideoProbe.probe(output, tools: tools)
        XCTAssertEqual(info.width, 128)
        XCTAssertEqual(info.height, 96)
        XCTAssertEqual(info.frameRate, FrameRate(numerator: 6, denominator: 1))
        XCTAssertEqual(info.frameCount, 3)
        XCTAssertTrue(info.hasAudio)
    }

    func testBadInputsEndWithOneLineNamingTheFile() throws {
        let missing = work.appendingPathComponent("no-such-folder").path
        let result = try run(["upscale", "--in-path", missing, "--out-path", work.appendingPathComponent("out").path] + modelArguments)
        XCTAssertNotEqual(result.status, 0)
        let lines = result.errors.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, result.errors)
        XCTAssertTrue(result.errors.contains(missing), result.errors)

        let sequence = work.appendingPathComponent("clips/seq")
        try FileManager.default.createDirectory(at: sequence, withIntermediateDirectories: true)
        try ImageFile.writePNG(frame(0), to: sequence.appendingPathComponent("a.png").path)
        let badWeights = work.appendingPathComponent("broken.safetensors").path
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: badWeights))
        let broken = try run(["upscale", "--in-path", work.appendingPathComponent("clips").path,
                              "--out-path", work.appendingPathComponent("out2").path,
                              "--model-id", fixtures.appendingPathComponent("tiny_model").path, "--flow-weights", badWeights])
        XCTAssertNotEqual(broken.status, 0)
        XCTAssertTrue(broken.errors.contains("broken.safetensors"), broken.errors)
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent("out2/clips/seq/a.png").path))
    }

    /// `serve` with the tiny model over real HTTP: upload a video with audio, run a job, follow it to the
    /// end, download the result and check it is the 4x video with the source rate and audio.
    func testServeUpscalesAnUploadedVideoWithTheTinyModel() throws {
        guard let tools = try? FFmpegTools.locate() else { throw XCTSkip("ffmpeg/ffprobe not installed") }
        let clip = try makeClip(framesPerSecond: 4, tools: tools)

        let port = Int.random(in: 20_000..<40_000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: try executable)
        server.arguments = ["serve", "--host", "127.0.0.1", "--port", "\(port)",
                            "--model-id", fixtures.appendingPathComponent("tiny_model").path, "--flow-weights", try flowWeights()]
        var environment = ProcessInfo.processInfo.environment
        environment["STREAM_DIFFVSR_TMP_DIR"] = work.appendingPathComponent("tmp").path
        environment["STREAM_DIFFVSR_OUTPUT_DIR"] = work.appendingPathComponent("outputs").path
        server.environment = environment
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        let base = "http://127.0.0.1:\(port)"

        var ready = false
        for _ in 0..<120 where !ready {
            ready = (try? request("GET", base + "/api/info"))?.status == 200
            if !ready { Thread.sleep(forTimeInterval: 0.5) }
        }
        XCTAssertTrue(ready, "server did not start")
        let upload = try request("POST", base + "/api/uploads?name=clip.mkv", body: Data(contentsOf: URL(fileURLWithPath: clip)))
        XCTAssertEqual(upload.status, 201)
        let uploadID = try XCTUnwrap(upload.json["id"] as? String)
        let job = try request("POST", base + "/api/jobs", body: try JSONSerialization.data(withJSONObject: ["upload": uploadID, "inferenceSteps": 1]))
        XCTAssertEqual(job.status, 202)
        let jobID = try XCTUnwrap(job.json["id"] as? String)
        var state = ""
        for _ in 0..<240 where !["finished", "failed", "cancelled"].contains(state) {
            Thread.sleep(forTimeInterval: 0.5)
            state = try request("GET", base + "/api/jobs/\(jobID)").json["state"] as? String ?? ""
        }
        XCTAssertEqual(state, "finished")
        let result = try request("GET", base + "/api/jobs/\(jobID)/result?download=1")
        XCTAssertEqual(result.status, 200)
        let downloaded = work.appendingPathComponent("downloaded.mp4")
        try result.body.write(to: downloaded)
        let info = try VideoProbe.probe(downloaded.path, tools: tools)
        XCTAssertEqual(info.width, 128)
        XCTAssertEqual(info.height, 96)
        XCTAssertEqual(info.frameCount, 2)
        XCTAssertEqual(info.frameRate, FrameRate(numerator: 4, denominator: 1))
        XCTAssertTrue(info.hasAudio)
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
}
