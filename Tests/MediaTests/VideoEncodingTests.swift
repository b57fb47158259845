import Foundation
import XCTest
@testable import Media

/// Encoder settings, the check that runs before any work, and joining segments without re-encoding.
final class VideoEncodingTests: XCTestCase {
    var tools: FFmpegTools!
    var folder: String!

    override func setUpWithError() throws {
        guard let tools = try? FFmpegTools.locate() else { throw XCTSkip("ffmpeg/ffprobe not installed") }
        self.tools = tools
        folder = NSTemporaryDirectory() + "encoding-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let folder { try? FileManager.default.removeItem(atPath: folder) }
    }

    func testDefaultsAreTodaysH264AndEachCodecGetsItsOwnQualityAndPresetFlags() throws {
        XCTAssertEqual(VideoEncoderSettings().ffmpegArguments, ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "16", "-preset", "medium"])
        XCTAssertEqual(VideoEncoderSettings(codec: .libaomAV1, crf: 30, preset: "6").ffmpegArguments,
                       ["-c:v", "libaom-av1", "-pix_fmt", "yuv420p", "-crf", "30", "-b:v", "0", "-cpu-used", "6"])
        XCTAssertEqual(VideoEncoderSettings(codec: .ffv1, options: [try .init(parsing: "level=3")]).ffmpegArguments,
                       ["-c:v", "ffv1", "-pix_fmt", "bgr0", "-level", "3"])
        XCTAssertEqual(try VideoEncoderSettings.Option(parsing: "x264-params=aq-mode=3:psy-rd=1.0"),
                       try VideoEncoderSettings.Option(parsing: "x264-params=aq-mode=3:psy-rd=1.0"))
        XCTAssertEqual(try VideoEncoderSettings.Option(parsing: "x264-params=aq-mode=3").value, "aq-mode=3")
    }

    func testBadSettingsAreRefusedInOneLine() {
        let cases: [(() throws -> Void, VideoEncoderSettingsError)] = [
            ({ _ = try VideoEncoderSettings.Option(parsing: "tune") }, .malformedOption("tune")),
            ({ _ = try VideoEncoderSettings.Option(parsing: "-y=1") }, .malformedOption("-y=1")),
            ({ _ = try VideoEncoderSettings.Option(parsing: "map=0:a") }, .reservedOption("map")),
            ({ _ = try VideoEncoderSettings.Option(parsing: "filter_complex=x") }, .reservedOption("filter_complex")),
            ({ _ = try VideoEncoderSettings.Option(parsing: "crf=3") }, .reservedOption("crf")),
            ({ try VideoEncoderSettings(codec: .ffv1, crf: 3).validate() }, .crfNotApplicable(codec: "ffv1")),
            ({ try VideoEncoderSettings(codec: .libsvtav1, crf: 70).validate() }, .crfOutOfRange(codec: "libsvtav1", crf: 70, range: 1...63)),
            ({ try VideoEncoderSettings(codec: .libx265, preset: "warp").validate() },
             .unknownPreset(codec: "libx265", preset: "warp", expected: VideoEncoderSettings.namedPresets.joined(separator: ", "))),
        ]
        for (attempt, expected) in cases {
            XCTAssertThrowsError(try attempt()) {
                XCTAssertEqual($0 as? VideoEncoderSettingsError, expected)
                XCTAssertEqual("\($0)".split(separator: "\n").count, 1)
            }
        }
    }

    /// An ffmpeg whose build lacks libsvtav1: the real one with that line removed from `-encoders`.
    func testAnEncoderTheLocalFFmpegLacksIsNamedWithTheOnesItHas() throws {
        let script = folder + "/ffmpeg-without-svtav1"
        try Data("#!/bin/sh\nif [ \"$2\" = \"-encoders\" ]; then \(tools.ffmpeg) \"$@\" | grep -v libsvtav1; else exec \(tools.ffmpeg) \"$@\"; fi\n".utf8)
            .write(to: URL(fileURLWithPath: script))
        chmod(script, 0o755)
        let limited = FFmpegTools(ffmpeg: script, ffprobe: tools.ffprobe)
        XCTAssertThrowsError(try VideoEncoderCheck.verify(VideoEncoderSettings(codec: .libsvtav1), containerExtension: "mp4", tools: limited)) {
            guard case .encoderUnavailable(let codec, let ffmpeg, let available)? = $0 as? VideoEncoderSettingsError else { return XCTFail("\($0)") }
            XCTAssertEqual(codec, "libsvtav1")
            XCTAssertEqual(ffmpeg, script)
            XCTAssertTrue(available.contains("libx264") && !available.contains("libsvtav1"), "\(available)")
        }
        XCTAssertNoThrow(try VideoEncoderCheck.verify(VideoEncoderSettings(), containerExtension: "mp4", tools: limited))
    }

    func testPixelFormatsAndContainersTheEncoderCannotTakeAreRefused() throws {
        XCTAssertThrowsError(try VideoEncoderCheck.verify(VideoEncoderSettings(codec: .libsvtav1, pixelFormat: .yuv444p),
                                                          containerExtension: "mkv", tools: tools)) {
            guard case .pixelFormatUnsupported(let codec, let format, let supported)? = $0 as? VideoEncoderSettingsError else { return XCTFail("\($0)") }
            XCTAssertEqual(codec, "libsvtav1")
            XCTAssertEqual(format, "yuv444p")
            XCTAssertTrue(supported.contains("yuv420p"), "\(supported)")
        }
        XCTAssertThrowsError(try VideoEncoderCheck.verify(VideoEncoderSettings(codec: .ffv1), containerExtension: "mp4", tools: tools)) {
            XCTAssertTrue("\($0)".contains("ffv1") && "\($0)".contains(".mp4"), "\($0)")
        }
        for codec in [VideoEncoderSettings.Codec.libx264, .libx265, .libsvtav1, .ffv1] {
            XCTAssertNoThrow(try VideoEncoderCheck.verify(VideoEncoderSettings(codec: codec), containerExtension: "mkv", tools: tools), codec.rawValue)
        }
    }

    func testConcatDurationsNeverDriftAndTheJoinedVideoHasExactTimestamps() throws {
        let ntsc = FrameRate(numerator: 30000, denominator: 1001)
        let segments = (0..<3).map { VideoSegmentJoiner.Segment(name: "s\($0).nut", frames: 10) }
        // 10 frames are 333666.67 us: the durations alternate so that their sums are the rounded starts.
        XCTAssertEqual(VideoSegmentJoiner.concatList(segments, frameRate: ntsc),
                       "ffconcat version 1.0\nfile 's0.nut'\nduration 333667us\nfile 's1.nut'\nduration 333666us\nfile 's2.nut'\nduration 333667us\n")

        for (index, segment) in segments.enumerated() {
            let writer = try VideoFrameWriter(destination: folder + "/" + segment.name, width: 32, height: 16, frameRate: ntsc, tools: tools)
            for frame in 0..<segment.frames {
                try writer.write(RGBImage(width: 32, height: 16, pixels: [UInt8](repeating: UInt8(index * 60 + frame * 5), count: 32 * 16 * 3)))
            }
            try writer.finish()
        }
        try VideoSegmentJoiner.join(segments: segments, in: folder, frameRate: ntsc, source: nil, destination: folder + "/joined.mp4", tools: tools)
        let output = try ProcessRunner.run(tools.ffprobe, ["-v", "error", "-select_streams", "v:0", "-show_entries",
                                                           "stream=avg_frame_rate,nb_frames,time_base:packet=pts", "-of", "json",
                                                           folder + "/joined.mp4"])
        struct Report: Decodable {
            struct Stream: Decodable { let avg_frame_rate: String; let nb_frames: String; let time_base: String }
            struct Packet: Decodable { let pts: Int }
            let streams: [Stream]
            let packets: [Packet]
        }
        let report = try JSONDecoder().decode(Report.self, from: Data(output.stdout))
        XCTAssertEqual(report.streams.first?.avg_frame_rate, "30000/1001")
        XCTAssertEqual(report.streams.first?.nb_frames, "30")
        let pts = report.packets.map(\.pts).sorted()
        let steps = Set(zip(pts.dropFirst(), pts).map { $0 - $1 })
        XCTAssertEqual(steps.count, 1, "one frame duration throughout, across segment boundaries: \(steps)")
    }
}
