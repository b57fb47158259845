import Foundation
import Media
import XCTest
@testable import VideoJobs

/// Video outputs through real ffmpeg: encoder choices, the source's other streams, frame ranges,
/// segments and resume.
final class VideoOutputTests: XCTestCase {
    var tools: FFmpegTools!

    override func setUpWithError() throws {
        guard let tools = try? FFmpegTools.locate() else { throw XCTSkip("ffmpeg/ffprobe not installed") }
        self.tools = tools
    }

    private func ffmpeg(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tools.ffmpeg)
        process.arguments = ["-hide_banner", "-loglevel", "error", "-y"] + arguments
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "ffmpeg \(arguments)")
    }

    /// ffprobe's JSON report of streams, chapters and format (with packets when asked).
    private func probe(_ path: String, packets: Bool = false) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tools.ffprobe)
        process.arguments = ["-v", "error", "-print_format", "json", "-show_streams", "-show_chapters", "-show_format"]
            + (packets ? ["-select_streams", "v:0", "-show_packets"] : []) + [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func streams(_ report: [String: Any], type: String) -> [[String: Any]] {
        (report["streams"] as? [[String: Any]] ?? []).filter { $0["codec_type"] as? String == type }
    }

    private func frames(of path: String) throws -> [RGBImage] {
        let reader = try VideoFrameReader(path: path, tools: tools)
        var frames: [RGBImage] = []
        while let frame = try reader.nextFrame() { frames.append(frame) }
        return frames
    }

    /// 8 frames of 16x16 testsrc at 24 fps with a tone, two subtitles, two chapters and a title (MKV).
    private func makeRichClip(in folder: String) throws -> String {
        try Data("1\n00:00:00,000 --> 00:00:00,150\nHello\n\n2\n00:00:00,200 --> 00:00:00,330\nWorld\n".utf8)
            .write(to: URL(fileURLWithPath: folder + "/subs.srt"))
        try Data(";FFMETADATA1\ntitle=Test clip\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=160\ntitle=One\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=160\nEND=333\ntitle=Two\n".utf8)
            .write(to: URL(fileURLWithPath: folder + "/meta.txt"))
        let clip = folder + "/rich.mkv"
        try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=16x16:rate=24:duration=0.3333", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.3333",
                    "-i", folder + "/subs.srt", "-i", folder + "/meta.txt", "-map", "0:v", "-map", "1:a", "-map", "2:s",
                    "-map_metadata", "3", "-map_chapters", "3",
                    "-c:v", "libx264", "-pix_fmt", "yuv444p", "-c:a", "aac", "-c:s", "srt", "-metadata:s:s:0", "language=fra", clip])
        return clip
    }

    func testSubtitlesChaptersAndMetadataAreKeptAndCutToTheRange() throws {
        let folder = try makeTemporaryFolder(self)
        let clip = try makeRichClip(in: folder)
        var options = JobOptions()
        options.selection = FrameSelection(startFrame: 2, endFrame: 6)
        try JobRunner(job: .video(input: clip, output: folder + "/out.mp4"), options: options).run(factory: FakeFactory())
        let report = try probe(folder + "/out.mp4")
        let subtitles = streams(report, type: "subtitle")
        XCTAssertEqual(subtitles.map { $0["codec_name"] as? String }, ["mov_text"])
        XCTAssertEqual((subtitles.first?["tags"] as? [String: String])?["language"], "fra")
        XCTAssertEqual(((report["format"] as? [String: Any])?["tags"] as? [String: String])?["title"], "Test clip")
        let chapters = report["chapters"] as? [[String: Any]] ?? []
        XCTAssertEqual(chapters.compactMap { ($0["tags"] as? [String: String])?["title"] }, ["One", "Two"])
        // Frames 2..<6 start 2/24 s after the first video frame: the chapters move with them.
        let videoStart = try XCTUnwrap(VideoProbe.probe(clip, tools: tools).videoStartSeconds)
        XCTAssertEqual(Double(chapters.last?["start_time"] as? String ?? "") ?? -1, 0.160 - videoStart - 2.0 / 24, accuracy: 0.002)
        let video = streams(report, type: "video")
        XCTAssertEqual(video.first?["nb_frames"] as? String, "4")
        let audio = try XCTUnwrap(streams(report, type: "audio").first)
        XCTAssertEqual(Double(audio["duration"] as? String ?? "") ?? 0, 4.0 / 24, accuracy: 0.03, "audio cut to the 4 frames")

        // Matroska keeps SubRip as it is; --no-audio / --no-subtitles drop the streams.
        options.keepAudio = false
        try JobRunner(job: .video(input: clip, output: folder + "/out.mkv"), options: options).run(factory: FakeFactory())
        let matroska = try probe(folder + "/out.mkv")
        XCTAssertEqual(streams(matroska, type: "subtitle").map { $0["codec_name"] as? String }, ["subrip"])
        XCTAssertEqual(streams(matroska, type: "audio").count, 0)
        options.keepSubtitles = false
        try JobRunner(job: .video(input: clip, output: folder + "/bare.mkv"), options: options).run(factory: FakeFactory())
        XCTAssertEqual(streams(try probe(folder + "/bare.mkv"), type: "subtitle").count, 0)
        XCTAssertEqual(allFiles(under: folder).filter { $0.hasPrefix(".") }, [], "no work folder left behind")
    }

    func testTimeRangeCutsVideoAndAudio() throws {
        let folder = try makeTemporaryFolder(self)
        let clip = try makeRichClip(in: folder)
        var options = JobOptions()
        options.selection = FrameSelection(startSeconds: 0.125, durationSeconds: 0.125)
        try JobRunner(job: .video(input: clip, output: folder + "/out.mkv"), options: options).run(factory: FakeFactory())
        let output = try frames(of: folder + "/out.mkv")
        let source = try frames(of: clip)
        XCTAssertEqual(output.count, 3, "frames 3, 4, 5 are shown in [0.125, 0.25) s")
        for (index, frame) in output.enumerated() {
            let expected = NearestUpscaler.nearest4(source[index + 3])
            let meanError = zip(expected.pixels, frame.pixels).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(frame.pixels.count)
            XCTAssertLessThan(meanError, 6, "frame \(index)")
        }
        let audio = try XCTUnwrap(streams(try probe(folder + "/out.mkv"), type: "audio").first)
        let duration = Double((audio["tags"] as? [String: String])?["DURATION"]?.split(separator: ":").last ?? "") ?? 0
        XCTAssertEqual(duration, 0.125, accuracy: 0.03, "the audio is cut to the frames (one AAC frame is 23 ms)")
    }

    func testLosslessFFV1KeepsTheUpscaledFramesExactly() throws {
        let folder = try makeTemporaryFolder(self)
        let clip = try makeRichClip(in: folder)
        var options = JobOptions()
        options.encoder = VideoEncoderSettings(codec: .ffv1)
        try JobRunner(job: .video(input: clip, output: folder + "/lossless.mkv"), options: options).run(factory: FakeFactory())
        XCTAssertEqual(try frames(of: folder + "/lossless.mkv"), try frames(of: clip).map(NearestUpscaler.nearest4))
        XCTAssertEqual(streams(try probe(folder + "/lossless.mkv"), type: "video").first?["pix_fmt"] as? String, "bgr0")
    }

    func testEncoderChoicesReachTheFile() throws {
        let folder = try makeTemporaryFolder(self)
        let clip = try makeRichClip(in: folder)
        var options = JobOptions()
        options.encoder = VideoEncoderSettings(codec: .libx265, crf: 30, preset: "ultrafast", pixelFormat: .yuv444p,
                                               options: [try .init(parsing: "g=3")])
        try JobRunner(job: .video(input: clip, output: folder + "/hevc.mp4"), options: options).run(factory: FakeFactory())
        let report = try probe(folder + "/hevc.mp4", packets: true)
        let video = try XCTUnwrap(streams(report, type: "video").first)
        XCTAssertEqual(video["codec_name"] as? String, "hevc")
        XCTAssertEqual(video["pix_fmt"] as? String, "yuv444p")
        let keyframes = (report["packets"] as? [[String: Any]] ?? []).filter { ($0["flags"] as? String)?.hasPrefix("K") == true }
        XCTAssertGreaterThanOrEqual(keyframes.count, 3, "-g 3 was passed through")
    }

    func testEncoderSettingsTheLocalFFmpegCannotUseAreRefusedBeforeAnyFrame() throws {
        let folder = try makeTemporaryFolder(self)
        let clip = try makeRichClip(in: folder)
        let factory = FakeFactory()
        var options = JobOptions()
        options.encoder = VideoEncoderSettings(codec: .ffv1)
        XCTAssertThrowsError(try JobRunner(job: .video(input: clip, output: folder + "/out.mp4"), options: options).run(factory: factory)) {
            guard case .rejected(let codec, let container, let reason)? = $0 as? VideoEncoderSettingsError else { return XCTFail("\($0)") }
            XCTAssertEqual(codec, "ffv1")
            XCTAssertEqual(container, "mp4")
            XCTAssertTrue(reason.contains("ffv1"), reason)
        }
        options.encoder = VideoEncoderSettings(codec: .libx264, options: [try .init(parsing: "tune=nonsense")])
        XCTAssertThrowsError(try JobRunner(job: .video(input: clip, output: folder + "/out.mp4"), options: options).run(factory: factory)) {
            guard case .rejected? = $0 as? VideoEncoderSettingsError else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(factory.sequences, [], "no upscaler was made")
        XCTAssertEqual(allFiles(under: folder).filter { $0.hasPrefix("out") || $0.hasPrefix(".") }, [])
    }

    func testAnInterruptedVideoResumesToTheSameFramesAndSegmentsJoinWithoutReencoding() throws {
        let folder = try makeTemporaryFolder(self)
        let clip = try makeRichClip(in: folder)
        var options = JobOptions()
        options.checkpointEvery = 2
        options.segmentFrames = 3
        try JobRunner(job: .video(input: clip, output: folder + "/plain.mp4"), options: options).run(factory: RunningSumFactory())

        let crashing = RunningSumFactory()
        crashing.crashAfter = 7
        XCTAssertThrowsError(try JobRunner(job: .video(input: clip, output: folder + "/resumed.mp4"), options: options).run(factory: crashing))
        let work = folder + "/.resumed.mp4.resume"
        XCTAssertEqual(try JobCheckpoint.read(from: work + "/checkpoint")?.checkpoint.framesDone, 6)
        // Segments of 4 frames (3 rounded up to a multiple of 2): one closed, frames 4 and 5 pending; frame 6
        // came after the checkpoint, so the resumed run deletes and recomputes it.
        XCTAssertEqual(allFiles(under: work), ["checkpoint", "frame-000000004.png", "frame-000000005.png", "frame-000000006.png",
                                               "segment-000000.nut"])
        options.resume = true
        try JobRunner(job: .video(input: clip, output: folder + "/resumed.mp4"), options: options).run(factory: RunningSumFactory())
        XCTAssertFalse(FileManager.default.fileExists(atPath: work))

        let plain = try frames(of: folder + "/plain.mp4"), resumed = try frames(of: folder + "/resumed.mp4")
        XCTAssertEqual(plain.count, 8)
        XCTAssertTrue(plain == resumed, "the resumed video decodes to the same frames")
        let packets = try probe(folder + "/resumed.mp4", packets: true)["packets"] as? [[String: Any]] ?? []
        let keyframes = packets.enumerated().filter { ($0.element["flags"] as? String)?.hasPrefix("K") == true }.map(\.offset)
        XCTAssertEqual(keyframes, [0, 4], "each segment starts with its own keyframe: joined, not re-encoded")
        let report = try probe(folder + "/resumed.mp4")
        XCTAssertEqual(streams(report, type: "video").first?["avg_frame_rate"] as? String, "24/1")
        XCTAssertEqual(streams(report, type: "subtitle").count, 1)
    }
}
