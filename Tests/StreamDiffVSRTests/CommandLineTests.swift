// The `stream-diffvsr` executable end to end on the tiny model: a folder of sequences, a video file with
// audio, and bad inputs, each checked the way a user sees them (exit status, files, one error line);
// then the video tool's features: resume after a kill, encoder choices, streams kept, frame ranges,
// the LR flow option and `eval`.

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

    private func run(_ arguments: [String], environment extra: [String: String] = [:]) throws -> (status: Int32, output: String, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["HF_HUB_OFFLINE"] = "1"
        environment.merge(extra) { $1 }
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

    /// A library session with the settings `modelArguments` give the CLI (seed 42, the original's CUDA noise), changed by `configure`.
    private func librarySession(_ configure: (inout SessionOptions) -> Void = { _ in }) throws -> StreamSession {
        var options = SessionOptions()
        options.seed = 42
        options.numInferenceSteps = 2
        options.noise = .torchCUDA(.rtx4090)
        configure(&options)
        return try TinyPipeline.load().makeSession(options)
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
        let noise = TorchNoiseStream(source: .torchCUDA(.rtx4090), seed: 42)
        for sequence in ["seqA", "seqB"] {
            let session = try librarySession { $0.torchNoise = noise }
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

    /// `devices` lists the CPU and every Vulkan device; `auto` never takes a software driver (lavapipe
    /// here), and without a Vulkan driver the CPU is taken with one line saying why, while an explicit
    /// `--device vulkan` is refused with that line.
    func testDevicesAndTheDeviceChoiceWithAndWithoutVulkan() throws {
        let listed = try run(["devices"])
        XCTAssertEqual(listed.status, 0, listed.errors)
        let lines = listed.output.split(separator: "\n").map(String.init)
        XCTAssert(lines.first?.hasPrefix("cpu: ") ?? false, listed.output)
        for line in lines where line.contains("[software (CPU) driver]") {
            XCTAssertFalse(line.contains("<- auto"), "auto picked a software driver: \(line)")
        }
        let noDriver = ["VK_ICD_FILENAMES": "/nonexistent/icd.json", "VK_DRIVER_FILES": "/nonexistent/icd.json"]
        let withoutVulkan = try run(["devices"], environment: noDriver)
        XCTAssert(withoutVulkan.output.contains("cpu: ") && withoutVulkan.output.contains("<- auto"), withoutVulkan.output)
        XCTAssert(withoutVulkan.output.contains("vulkan: Vulkan is unavailable"), withoutVulkan.output)
        let input = work.appendingPathComponent("device-clip/seq")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        try ImageFile.writePNG(frame(0), to: input.appendingPathComponent("f0.png").path)
        let refused = try run(["upscale", "--device", "vulkan", "--in-path", input.deletingLastPathComponent().path,
                               "--out-path", work.appendingPathComponent("device-out").path] + modelArguments,
                              environment: noDriver)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssert(refused.errors.contains("device vulkan is not available"), refused.errors)
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
        let upload = try request("POST", base + "/api/uploads?name=clip.mkv", body: Data(contentsOf: URL(fileURLWithPath: clip)),
                                 contentType: "application/octet-stream")
        XCTAssertEqual(upload.status, 201)
        let uploadID = try XCTUnwrap(upload.json["id"] as? String)
        let job = try request("POST", base + "/api/jobs", body: try JSONSerialization.data(withJSONObject: ["upload": uploadID, "inferenceSteps": 1]),
                              contentType: "application/json")
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

    /// The server takes POST bodies only with the content type each endpoint reads (its access model).
    private func request(_ method: String, _ url: String, body: Data? = nil, contentType: String? = nil) throws -> (status: Int, body: Data, json: [String: Any]) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.httpBody = body
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
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

    // MARK: - The video tool

    /// The tiny model, fast: 2 steps and one RAFT refinement.
    private var fastModelArguments: [String] {
        get throws { try modelArguments + ["--flow-iterations", "1"] }
    }

    /// Starts the CLI, waits until its first checkpoint is on disk, and kills it with SIGKILL: no chance
    /// to clean up or save anything more, like a crash or `kill -9`.
    private func killAfterFirstCheckpoint(_ arguments: [String], checkpoint: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["HF_HUB_OFFLINE": "1"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(300)
        while !FileManager.default.fileExists(atPath: checkpoint) && process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the run ended before it was killed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint), "no checkpoint was written before the kill")
    }

    private func decodedFrames(_ path: String, tools: FFmpegTools) throws -> [RGBImage] {
        let reader = try VideoFrameReader(path: path, tools: tools)
        var frames: [RGBImage] = []
        while let frame = try reader.nextFrame() { frames.append(frame) }
        return frames
    }

    private func ffprobe(_ path: String, tools: FFmpegTools) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tools.ffprobe)
        process.arguments = ["-v", "error", "-print_format", "json", "-show_streams", "-show_chapters", "-show_format", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func streamTypes(_ report: [String: Any]) -> [String] {
        (report["streams"] as? [[String: Any]] ?? []).compactMap { $0["codec_type"] as? String }
    }

    func testAKilledFolderRunResumesToTheSameFramesBitForBit() throws {
        let input = work.appendingPathComponent("clips/seq")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        for index in 0..<6 { try ImageFile.writePNG(frame(index), to: input.appendingPathComponent("f\(index).png").path) }
        let common = ["upscale", "--in-path", work.appendingPathComponent("clips").path, "--checkpoint-every", "2"] + (try fastModelArguments)
        let plain = try run(common + ["--out-path", work.appendingPathComponent("plain").path])
        XCTAssertEqual(plain.status, 0, plain.errors)

        let resumedOut = work.appendingPathComponent("resumed")
        try killAfterFirstCheckpoint(common + ["--out-path", resumedOut.path],
                                     checkpoint: resumedOut.appendingPathComponent("clips/.seq.resume/checkpoint").path)
        let written = try FileManager.default.contentsOfDirectory(atPath: resumedOut.appendingPathComponent("clips/seq").path)
        XCTAssertLessThan(written.filter { $0.hasSuffix(".png") && !$0.hasPrefix(".") }.count, 6, "killed mid-way")

        let refused = try run(common + ["--out-path", resumedOut.path])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.errors.contains("--resume"), refused.errors)
        let resumed = try run(common + ["--out-path", resumedOut.path, "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.errors)
        XCTAssertTrue(resumed.errors.contains("resuming from the checkpoint after frame"), resumed.errors)
        for index in 0..<6 {
            let name = "clips/seq/f\(index).png"
            XCTAssertEqual(try Data(contentsOf: resumedOut.appendingPathComponent(name)),
                           try Data(contentsOf: work.appendingPathComponent("plain").appendingPathComponent(name)), name)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: resumedOut.appendingPathComponent("clips/.seq.resume").path))
    }

    func testAKilledVideoRunResumesToTheSameFramesBitForBit() throws {
        guard let tools = try? FFmpegTools.locate() else { throw XCTSkip("ffmpeg/ffprobe not installed") }
        let clip = try makeClip(framesPerSecond: 16, tools: tools)
        let common = ["upscale", "--in-path", clip, "--checkpoint-every", "2", "--segment-frames", "4"] + (try fastModelArguments)
        let plainPath = work.appendingPathComponent("plain.mp4").path
        let plain = try run(common + ["--out-path", plainPath])
        XCTAssertEqual(plain.status, 0, plain.errors)

        let resumedPath = work.appendingPathComponent("resumed.mp4").path
        try killAfterFirstCheckpoint(common + ["--out-path", resumedPath],
                                     checkpoint: work.appendingPathComponent(".resumed.mp4.resume/checkpoint").path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: resumedPath), "killed mid-way")
        let resumed = try run(common + ["--out-path", resumedPath, "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.errors)

        let expected = try decodedFrames(plainPath, tools: tools)
        XCTAssertEqual(expected.count, 8)
        XCTAssertTrue(try decodedFrames(resumedPath, tools: tools) == expected, "the resumed video has the same frames")
        XCTAssertTrue(try VideoProbe.probe(resumedPath, tools: tools).hasAudio)
        XCTAssertFalse(FileManager.default.fileExists(atPath: work.appendingPathComponent(".resumed.mp4.resume").path))
    }

    func testSubtitlesChaptersAndMetadataSurviveAndAFrameRangeCutsThem() throws {
        guard let tools = try? FFmpegTools.locate() else { throw XCTSkip("ffmpeg/ffprobe not installed") }
        let clip = try makeClip(framesPerSecond: 8, tools: tools)
        let subtitles = work.appendingPathComponent("subs.srt")
        try Data("1\n00:00:00,000 --> 00:00:00,400\nBonjour\n".utf8).write(to: subtitles)
        let metadata = work.appendingPathComponent("meta.txt")
        try Data(";FFMETADATA1\ntitle=Clip title\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=500\ntitle=Only\n".utf8).write(to: metadata)
        let source = work.appendingPathComponent("source.mkv").path
        let maker = Process()
        maker.executableURL = URL(fileURLWithPath: tools.ffmpeg)
        maker.arguments = ["-hide_banner", "-loglevel", "error", "-i", clip, "-i", subtitles.path, "-i", metadata.path,
                           "-map", "0", "-map", "1", "-map_metadata", "2", "-map_chapters", "2", "-c:v", "copy", "-c:a", "copy",
                           "-c:s", "srt", source]
        try maker.run()
        maker.waitUntilExit()
        XCTAssertEqual(maker.terminationStatus, 0)

        let output = work.appendingPathComponent("out.mp4").path
        let result = try run(["upscale", "--in-path", source, "--out-path", output, "--start-frame", "1", "--end-frame", "3"] + (try fastModelArguments))
        XCTAssertEqual(result.status, 0, result.errors)
        let report = try ffprobe(output, tools: tools)
        XCTAssertEqual(streamTypes(report).sorted(), ["audio", "data", "subtitle", "video"], "data: MP4's chapter track")
        XCTAssertEqual(((report["format"] as? [String: Any])?["tags"] as? [String: String])?["title"], "Clip title")
        XCTAssertEqual((report["chapters"] as? [[String: Any]])?.count, 1)
        let info = try VideoProbe.probe(output, tools: tools)
        XCTAssertEqual(info.frameCount, 2)
        XCTAssertEqual(info.subtitleCodecs, ["mov_text"])

        let bare = work.appendingPathComponent("bare.mkv").path
        let dropped = try run(["upscale", "--in-path", source, "--out-path", bare, "--no-audio", "--no-subtitles", "--end-frame", "1"]
                              + (try fastModelArguments))
        XCTAssertEqual(dropped.status, 0, dropped.errors)
        XCTAssertEqual(streamTypes(try ffprobe(bare, tools: tools)), ["video"])
    }

    func testLosslessFFV1HoldsTheExactFramesAndUnusableEncodersAreRefusedBeforeTheModelLoads() throws {
        guard let tools = try? FFmpegTools.locate() else { throw XCTSkip("ffmpeg/ffprobe not installed") }
        let clip = try makeClip(framesPerSecond: 6, tools: tools)
        let output = work.appendingPathComponent("lossless.mkv").path
        let result = try run(["upscale", "--in-path", clip, "--out-path", output, "--codec", "ffv1"] + (try fastModelArguments))
        XCTAssertEqual(result.status, 0, result.errors)

        let session = try librarySession { $0.flowIterations = 1 }
        let expected = try decodedFrames(clip, tools: tools).map { try session.upscale($0) }
        XCTAssertTrue(try decodedFrames(output, tools: tools) == expected, "ffv1 keeps the upscaled frames bit for bit")

        // A model folder that does not exist: each refusal below happens before the model would load.
        let noModel = ["--model-id", work.appendingPathComponent("no-model").path, "--flow-weights", work.appendingPathComponent("raft.safetensors").path]
        let refusals: [([String], [String: String], String)] = [
            (["--codec", "ffv1", "--out-path", work.appendingPathComponent("a.mp4").path], [:], "ffv1"),
            (["--codec", "libsvtav1", "--pix-fmt", "yuv444p", "--out-path", work.appendingPathComponent("b.mkv").path], [:], "yuv444p"),
            (["--encoder-option", "map=0", "--out-path", work.appendingPathComponent("c.mp4").path], [:], "map"),
            (["--crf", "99", "--out-path", work.appendingPathComponent("d.mp4").path], [:], "--crf 99"),
            (["--codec", "libsvtav1", "--out-path", work.appendingPathComponent("e.mp4").path], ["FFMPEG_PATH": try ffmpegWithout("libsvtav1", tools)],
             "encoder libsvtav1 is not in this ffmpeg build"),
        ]
        for (arguments, environment, expectedText) in refusals {
            let refused = try run(["upscale", "--in-path", clip] + arguments + noModel, environment: environment)
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertEqual(refused.errors.split(separator: "\n").count, 1, refused.errors)
            XCTAssertTrue(refused.errors.contains(expectedText), refused.errors)
            XCTAssertFalse(refused.errors.contains("no-model"), "refused before loading the model: \(refused.errors)")
        }
    }

    /// An `ffmpeg` wrapper whose `-encoders` list lacks one encoder, as a build without it would.
    private func ffmpegWithout(_ encoder: String, _ tools: FFmpegTools) throws -> String {
        let script = work.appendingPathComponent("ffmpeg-without-\(encoder)").path
        try Data("#!/bin/sh\nif [ \"$2\" = \"-encoders\" ]; then \(tools.ffmpeg) \"$@\" | grep -v \(encoder); else exec \(tools.ffmpeg) \"$@\"; fi\n".utf8)
            .write(to: URL(fileURLWithPath: script))
        chmod(script, 0o755)
        return script
    }

    func testAFrameRangeWithLRFlowGivesTheLibrarysFrames() throws {
        let input = work.appendingPathComponent("clips/seq")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        for index in 0..<4 { try ImageFile.writePNG(frame(index), to: input.appendingPathComponent("f\(index).png").path) }
        let output = work.appendingPathComponent("out")
        let result = try run(["upscale", "--in-path", work.appendingPathComponent("clips").path, "--out-path", output.path,
                              "--start-frame", "1", "--end-frame", "3", "--flow-resolution", "lr"] + (try fastModelArguments))
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: output.appendingPathComponent("clips/seq").path).sorted(),
                       ["f1.png", "f2.png"])

        let session = try librarySession {
            $0.flowIterations = 1
            $0.flowResolution = .lr
        }
        for index in 1..<3 {
            XCTAssertEqual(try ImageFile.read(output.appendingPathComponent("clips/seq/f\(index).png").path), try session.upscale(frame(index)))
        }
    }

    func testEvalPrintsBasicSRScoresAndTheWarpingErrorPerSequenceAndOverall() throws {
        let reference = work.appendingPathComponent("gt"), outputs = work.appendingPathComponent("sr")
        for sequence in ["a", "b"] {
            for folder in [reference, outputs] {
                try FileManager.default.createDirectory(at: folder.appendingPathComponent(sequence), withIntermediateDirectories: true)
            }
            for index in 0..<3 {
                let truth = frame(index + (sequence == "a" ? 0 : 5), width: 32, height: 24)
                var degraded = truth
                if sequence == "a" { for i in degraded.pixels.indices where i % 3 == 0 { degraded.pixels[i] &+= 9 } }
                try ImageFile.writePNG(truth, to: reference.appendingPathComponent("\(sequence)/\(index).png").path)
                try ImageFile.writePNG(degraded, to: outputs.appendingPathComponent("\(sequence)/im\(index).png").path)
            }
        }
        let flow = ["--flow-weights", try flowWeights(), "--flow-iterations", "1"]
        let json = try run(["eval", "--outputs", outputs.path, "--reference", reference.path, "--json"] + flow)
        XCTAssertEqual(json.status, 0, json.errors)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        let sequences = try XCTUnwrap(report["sequences"] as? [[String: Any]])
        XCTAssertEqual(sequences.map { $0["name"] as? String }, ["a", "b"])
        // Sequence a: the red channel is off by 9 everywhere (wrapping near 255 aside), so RGB MSE is known.
        let red = (0..<3).map { index -> Double in
            let pixels = frame(index, width: 32, height: 24).pixels
            let squared = stride(from: 0, to: pixels.count, by: 3).map { i -> Double in
                let difference = Double(pixels[i] &+ 9) - Double(pixels[i])
                return difference * difference
            }
            return 10 * log10(255 * 255 / (squared.reduce(0, +) / Double(pixels.count)))
        }
        XCTAssertEqual(sequences[0]["psnrRGB"] as? Double ?? 0, red.reduce(0, +) / 3, accuracy: 1e-9)
        XCTAssertEqual(sequences[1]["psnrY"] as? String, "inf", "identical frames")
        XCTAssertEqual(sequences[1]["ssimRGB"] as? Double, 1)
        let frames = try XCTUnwrap(sequences[0]["perFrame"] as? [[String: Any]])
        XCTAssertEqual(frames.count, 3)
        XCTAssertNil(frames[0]["warpingError"], "the first frame has no predecessor")
        XCTAssertNotNil(frames[1]["warpingError"] as? Double)
        let overall = try XCTUnwrap(report["overall"] as? [String: Any])
        XCTAssertEqual(overall["frames"] as? Int, 6)
        XCTAssertNotNil(overall["warpingError"] as? Double)

        let table = try run(["eval", "--outputs", outputs.path, "--reference", reference.path, "--no-warping-error", "--crop-border", "4"])
        XCTAssertEqual(table.status, 0, table.errors)
        let lines = table.output.split(separator: "\n")
        XCTAssertTrue(lines.first?.contains("PSNR-Y") == true && lines.first?.contains("SSIM-RGB") == true, table.output)
        XCTAssertTrue(lines.contains { $0.hasPrefix("overall") }, table.output)
        XCTAssertTrue(table.output.contains("crop border 4"), table.output)

        let mismatch = try run(["eval", "--outputs", outputs.appendingPathComponent("a").path, "--reference", reference.path, "--no-warping-error"])
        XCTAssertNotEqual(mismatch.status, 0)
        XCTAssertEqual(mismatch.errors.split(separator: "\n").count, 1, mismatch.errors)
    }

    func testHelpShowsEveryNewOption() throws {
        let upscale = try run(["upscale", "--help"])
        for option in ["--codec", "--crf", "--preset", "--pix-fmt", "--encoder-option", "--no-audio", "--no-subtitles", "--start-frame",
                       "--end-frame", "--start", "--duration", "--resume", "--checkpoint-every", "--segment-frames", "--flow-resolution",
                       "--flow-iterations"] {
            XCTAssertTrue(upscale.output.contains(option), "upscale --help lacks \(option)")
        }
        let eval = try run(["eval", "--help"])
        for option in ["--outputs", "--reference", "--crop-border", "--no-warping-error", "--flow-weights", "--json"] {
            XCTAssertTrue(eval.output.contains(option), "eval --help lacks \(option)")
        }
    }
}
