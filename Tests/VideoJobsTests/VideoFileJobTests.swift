import Foundation
import Media
import XCTest
@testable import VideoJobs

/// Video in, video out, through real ffmpeg (skipped only where ffmpeg is not installed).
final class VideoFileJobTests: XCTestCase {
    var tools: FFmpegTools!

    override func setUpWithError() throws {
        guard let tools = try? FFmpegTools.locate() else { throw XCTSkip("ffmpeg/ffprobe not installed") }
        self.tools = tools
    }

    /// 8 frames of testsrc at 32x32 / 24 fps with a sine tone, as the brief's test clip.
    func makeClip(in folder: String, audio: Bool = true, size: String = "32x32") throws -> String {
        let path = folder + "/clip.mp4"
        var arguments = ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=\(size):rate=24:duration=1"]
        if audio { arguments += ["-f", "lavfi", "-i", "sine=frequency=440:duration=1"] }
        arguments += ["-frames:v", "8", "-c:v", "libx264", "-pix_fmt", "yuv420p"]
        if audio { arguments += ["-c:a", "aac", "-shortest"] }
        arguments.append(path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tools.ffmpeg)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "ffmpeg could not make the test clip")
        return path
    }

    func testVideoIsUpscaledWithFrameRateAndAudio() throws {
        let folder = try makeTemporaryFolder(self)
        let clip = try makeClip(in: folder)
        let source = try VideoProbe.probe(clip, tools: tools)
        XCTAssertEqual(source.width, 32)
        XCTAssertEqual(source.frameRate, FrameRate(numerator: 24, denominator: 1))
        XCTAssertTrue(source.hasAudio)

        let job = try VideoJob.plan(inPath: clip, outPath: folder + "/out/upscaled.mp4")
        XCTAssertEqual(job, .video(input: clip, output: folder + "/out/upscaled.mp4"))
        var progress: [JobProgress] = []
        let summary = try JobRunner(job: job) { if case .frameFinished(let p) = $0 { progress.append(p) } }.run(factory: FakeFactory())
        XCTAssertEqual(summary.frames, 8)
        XCTAssertEqual(progress.map(\.framesDone), Array(1...8))

        let output = try VideoProbe.probe(folder + "/out/upscaled.mp4", tools: tools)
        XCTAssertEqual(output.width, 128)
        XCTAssertEqual(output.height, 128)
        XCTAssertEqual(output.frameRate, FrameRate(numerator: 24, denominator: 1))
        XCTAssertTrue(output.hasAudio)
        XCTAssertEqual(allFiles(under: folder + "/out"), ["upscaled.mp4"])

        // The content survives the round trip (H.264 is lossy: compare loosely with the nearest-x4 of the source).
        let sourceReader = try VideoFrameReader(path: clip, tools: tools)
        let outputReader = try VideoFrameReader(path: folder + "/out/upscaled.mp4", tools: tools)
        var frames = 0
        while let sourceFrame = try sourceReader.nextFrame() {
            let outputFrame = try XCTUnwrap(try outputReader.nextFrame())
            let expected = NearestUpscaler.nearest4(sourceFrame)
            let meanError = zip(expected.pixels, outputFrame.pixels).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(expected.pixels.count)
            XCTAssertLessThan(meanError, 6, "frame \(frames)")
            frames += 1
        }
        XCTAssertNil(try outputReader.nextFrame())
        XCTAssertEqual(frames, 8)
    }

    func testOutputFolderGetsTheClipNameAndVideoWithoutAudioWorks() throws {
        let folder = try makeTemporaryFolder(self)
        let clip = try makeClip(in: folder, audio: false)
        let job = try VideoJob.plan(inPath: clip, outPath: folder + "/results")
        XCTAssertEqual(job, .video(input: clip, output: folder + "/results/clip.mp4"))
        try JobRunner(job: job).run(factory: FakeFactory())
        XCTAssertFalse(try VideoProbe.probe(folder + "/results/clip.mp4", tools: tools).hasAudio)
    }

    func testAFailureMidVideoLeavesNoOutputFile() throws {
        let folder = try makeTemporaryFolder(self)
        let clip = try makeClip(in: folder)
        let factory = FakeFactory()
        factory.failAfter = 3
        let job = try VideoJob.plan(inPath: clip, outPath: folder + "/out/upscaled.mp4")
        XCTAssertThrowsError(try JobRunner(job: job).run(factory: factory)) { XCTAssertTrue($0 is NearestUpscaler.Failure) }
        XCTAssertEqual(allFiles(under: folder + "/out"), [])
    }

    func testANonVideoFileIsRejectedByName() throws {
        let folder = try makeTemporaryFolder(self)
        let path = folder + "/notes.mp4"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("not a video\n".utf8)))
        let job = try VideoJob.plan(inPath: path, outPath: folder + "/out.mp4")
        XCTAssertThrowsError(try JobRunner(job: job).run(factory: FakeFactory())) { error in
            guard case .notAVideo(let named, _)? = error as? MediaError else { return XCTFail("\(error)") }
            XCTAssertEqual(named, path)
        }
        // An audio-only file has no video stream.
        let audioOnly = folder + "/tone.m4a"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tools.ffmpeg)
        process.arguments = ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=0.2", audioOnly]
        try process.run()
        process.waitUntilExit()
        XCTAssertThrowsError(try JobRunner(job: try VideoJob.plan(inPath: audioOnly, outPath: folder + "/o.mp4")).run(factory: FakeFactory())) {
            XCTAssertEqual($0 as? MediaError, .noVideoStream(path: audioOnly))
        }
    }
}
