import Foundation
import Media
import XCTest
@testable import VideoJobs

/// Nearest-neighbour x4: a stand-in for the diffusion pipeline with a checkable output.
final class NearestUpscaler: FrameUpscaling {
    var framesSeen = 0
    let failAfter: Int?

    init(failAfter: Int? = nil) { self.failAfter = failAfter }

    struct Failure: Error {}

    func upscale(_ frame: RGBImage) throws -> RGBImage {
        framesSeen += 1
        if let failAfter, framesSeen > failAfter { throw Failure() }
        return NearestUpscaler.nearest4(frame)
    }

    static func nearest4(_ frame: RGBImage) -> RGBImage {
        let width = frame.width * 4, height = frame.height * 4
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 { pixels[(y * width + x) * 3 + c] = frame.pixels[((y / 4) * frame.width + x / 4) * 3 + c] }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}

final class FakeFactory: UpscalerFactory {
    var sequences: [String] = []
    var failAfter: Int?

    func makeUpscaler(sequence: String) throws -> FrameUpscaling {
        sequences.append(sequence)
        return NearestUpscaler(failAfter: failAfter)
    }
}

func makeTemporaryFolder(_ testCase: XCTestCase) throws -> String {
    let path = NSTemporaryDirectory() + "videojobs-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    testCase.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

func testFrame(width: Int, height: Int, seed: Int) -> RGBImage {
    RGBImage(width: width, height: height, pixels: (0..<(width * height * 3)).map { UInt8(truncatingIfNeeded: $0 * 7 + seed * 31) })
}

func allFiles(under root: String) -> [String] {
    (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).sorted()
}

final class FolderJobTests: XCTestCase {
    func writeSequences(_ root: String, sizes: [String: [(Int, Int)]]) throws {
        for (sequence, frameSizes) in sizes {
            let folder = root + "/" + sequence
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (index, size) in frameSizes.enumerated() {
                try testFrame(width: size.0, height: size.1, seed: index).writePNG(to: folder + String(format: "/frame_%04d.png", index + 1))
            }
        }
    }

    func testFolderOfSequencesMirrorsTheReferenceLayout() throws {
        let root = try makeTemporaryFolder(self)
        try writeSequences(root + "/input/clip", sizes: ["seq2": [(8, 4), (8, 4)], "seq1": [(12, 8), (12, 8), (12, 8)]])
        // Not a frame: ignored like hidden files, never treated as a sequence or a frame.
        XCTAssertTrue(FileManager.default.createFile(atPath: root + "/input/clip/seq1/notes.txt", contents: Data("x".utf8)))
        let job = try VideoJob.plan(inPath: root + "/input/clip", outPath: root + "/out")
        guard case .sequences(let sequences) = job else { return XCTFail("expected sequences") }
        XCTAssertEqual(sequences.map(\.name), ["seq1", "seq2"])
        XCTAssertEqual(sequences[0].frames, ["frame_0001.png", "frame_0002.png", "frame_0003.png"])

        var events: [JobEvent] = []
        let factory = FakeFactory()
        let summary = try JobRunner(job: job) { events.append($0) }.run(factory: factory)
        XCTAssertEqual(factory.sequences, ["seq1", "seq2"])
        XCTAssertEqual(allFiles(under: root + "/out"), [
            "clip", "clip/seq1", "clip/seq1/frame_0001.png", "clip/seq1/frame_0002.png", "clip/seq1/frame_0003.png",
            "clip/seq2", "clip/seq2/frame_0001.png", "clip/seq2/frame_0002.png",
        ])
        let output = try RGBImage(contentsOf: root + "/out/clip/seq1/frame_0002.png")
        XCTAssertEqual(output, NearestUpscaler.nearest4(testFrame(width: 12, height: 8, seed: 1)))
        XCTAssertEqual(summary.frames, 5)
        XCTAssertNotNil(summary.firstFrameLatency)
        XCTAssertNotNil(summary.p95SecondsPerFrame)
        let progress = events.compactMap { event -> JobProgress? in
            if case .frameFinished(let progress) = event { return progress }
            return nil
        }
        XCTAssertEqual(progress.map(\.framesDone), [1, 2, 3, 1, 2])
        XCTAssertEqual(progress.map(\.frameCount), [3, 3, 3, 2, 2])
        XCTAssertEqual(progress.last?.etaSeconds, 0)
        XCTAssertFalse(events.contains { if case .warning = $0 { return true } else { return false } })
    }

    func testASingleSequenceFolderGoesUnderItsParentsName() throws {
        let root = try makeTemporaryFolder(self)
        try writeSequences(root + "/clip", sizes: ["seq1": [(8, 8)]])
        let job = try VideoJob.plan(inPath: root + "/clip/seq1/", outPath: root + "/out")
        try JobRunner(job: job).run(factory: FakeFactory())
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/out/clip/seq1/frame_0001.png"))
    }

    func testSizesNotMultipleOfFourAreResizedWithOneWarning() throws {
        let root = try makeTemporaryFolder(self)
        try writeSequences(root + "/clip", sizes: ["seq1": [(10, 7), (10, 7)]])
        var warnings: [String] = []
        let job = try VideoJob.plan(inPath: root + "/clip", outPath: root + "/out")
        try JobRunner(job: job) { if case .warning(let text) = $0 { warnings.append(text) } }.run(factory: FakeFactory())
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings[0].contains("10x7") && warnings[0].contains("8x4"), warnings[0])
        let output = try RGBImage(contentsOf: root + "/out/clip/seq1/frame_0002.png")
        let expected = NearestUpscaler.nearest4(LanczosResize.resize(testFrame(width: 10, height: 7, seed: 1), width: 8, height: 4))
        XCTAssertEqual(output, expected)
    }

    func testMissingAndEmptyInputsFailClearly() throws {
        let root = try makeTemporaryFolder(self)
        XCTAssertThrowsError(try VideoJob.plan(inPath: root + "/nope", outPath: root + "/out")) {
            XCTAssertEqual($0 as? VideoJobError, .inputNotFound(path: root + "/nope"))
        }
        try FileManager.default.createDirectory(atPath: root + "/clip/seq1", withIntermediateDirectories: true)
        XCTAssertThrowsError(try VideoJob.plan(inPath: root + "/clip", outPath: root + "/out")) {
            XCTAssertEqual($0 as? VideoJobError, .noFrames(path: root + "/clip/seq1"))
        }
        try FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        XCTAssertThrowsError(try VideoJob.plan(inPath: root + "/empty", outPath: root + "/out")) {
            XCTAssertEqual($0 as? VideoJobError, .noFrames(path: root + "/empty"))
        }
    }

    func testAFrameOfAnotherSizeStopsTheRunBeforeAnyUpscaling() throws {
        let root = try makeTemporaryFolder(self)
        try writeSequences(root + "/clip", sizes: ["seq1": [(8, 8), (8, 8), (12, 8)]])
        let factory = FakeFactory()
        let job = try VideoJob.plan(inPath: root + "/clip", outPath: root + "/out")
        XCTAssertThrowsError(try JobRunner(job: job).run(factory: factory)) { error in
            XCTAssertEqual(error as? VideoJobError,
                           .frameSizeMismatch(path: root + "/clip/seq1/frame_0003.png", expected: "8x8", found: "12x8"))
            XCTAssertTrue("\(error)".hasPrefix(root + "/clip/seq1/frame_0003.png: "))
        }
        XCTAssertEqual(factory.sequences, [], "validation happens before any upscaler exists")
    }

    func testACorruptFrameIsNamed() throws {
        let root = try makeTemporaryFolder(self)
        try writeSequences(root + "/clip", sizes: ["seq1": [(8, 8), (8, 8)]])
        let bad = root + "/clip/seq1/frame_0002.png"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: bad))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: bad))
        let job = try VideoJob.plan(inPath: root + "/clip", outPath: root + "/out")
        XCTAssertThrowsError(try JobRunner(job: job).run(factory: FakeFactory())) { error in
            guard case .corruptImage(let path, _)? = error as? MediaError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, bad)
        }
    }

    func testAFailureMidSequenceLeavesOnlyCompleteFiles() throws {
        let root = try makeTemporaryFolder(self)
        try writeSequences(root + "/clip", sizes: ["seq1": [(8, 8), (8, 8), (8, 8)]])
        let factory = FakeFactory()
        factory.failAfter = 1
        let job = try VideoJob.plan(inPath: root + "/clip", outPath: root + "/out")
        XCTAssertThrowsError(try JobRunner(job: job).run(factory: factory))
        XCTAssertEqual(allFiles(under: root + "/out"), ["clip", "clip/seq1", "clip/seq1/frame_0001.png"])
        XCTAssertNoThrow(try RGBImage(contentsOf: root + "/out/clip/seq1/frame_0001.png"))
    }

    func testAnUnwritableOutputIsNamed() throws {
        let root = try makeTemporaryFolder(self)
        try writeSequences(root + "/clip", sizes: ["seq1": [(8, 8)]])
        // A file where the output folder should be.
        XCTAssertTrue(FileManager.default.createFile(atPath: root + "/out", contents: Data()))
        let job = try VideoJob.plan(inPath: root + "/clip", outPath: root + "/out")
        XCTAssertThrowsError(try JobRunner(job: job).run(factory: FakeFactory())) { error in
            guard case .outputUnwritable(let path, _)? = error as? VideoJobError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, root + "/out/clip/seq1")
        }
    }

    func testSummaryStatistics() {
        let summary = JobSummary(frameSeconds: (1...20).map(Double.init), firstFrameLatency: 3, totalSeconds: 210, outputs: [])
        XCTAssertEqual(summary.frames, 20)
        XCTAssertEqual(summary.meanSecondsPerFrame, 10.5)
        XCTAssertEqual(summary.p95SecondsPerFrame, 19)
        XCTAssertNil(JobSummary(frameSeconds: [], firstFrameLatency: nil, totalSeconds: 0, outputs: []).p95SecondsPerFrame)
    }
}
