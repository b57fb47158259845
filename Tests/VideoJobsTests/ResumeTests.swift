import Foundation
import Media
import XCTest
@testable import VideoJobs

/// A stand-in whose output depends on every earlier frame (like the diffusion stream's previous output),
/// so a resume that lost or replayed state would show in the pixels.
final class RunningSumUpscaler: ResumableUpscaling {
    private(set) var sum: UInt64
    let crashAfter: Int?
    private var frames = 0

    struct Crash: Error {}

    init(sum: UInt64 = 0, crashAfter: Int? = nil) {
        self.sum = sum
        self.crashAfter = crashAfter
    }

    func upscale(_ frame: RGBImage) throws -> RGBImage {
        frames += 1
        if let crashAfter, frames > crashAfter { throw Crash() }
        sum = sum &* 31 &+ frame.pixels.reduce(0) { $0 &+ UInt64($1) }
        var output = NearestUpscaler.nearest4(frame)
        for index in output.pixels.indices { output.pixels[index] &+= UInt8(truncatingIfNeeded: sum >> (index % 5 * 8)) }
        return output
    }

    func savedState() throws -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: sum >> (8 * $0)) }
    }
}

final class RunningSumFactory: UpscalerFactory {
    var crashAfter: Int?
    /// Crash only in this sequence (all when nil).
    var crashingSequence: String?
    private(set) var resumedStates: [[UInt8]] = []

    func makeUpscaler(sequence: String) throws -> FrameUpscaling {
        RunningSumUpscaler(crashAfter: crashingSequence.map { $0 == sequence } ?? true ? crashAfter : nil)
    }

    func resumeUpscaler(sequence: String, state: [UInt8]) throws -> FrameUpscaling {
        resumedStates.append(state)
        guard state.count == 8 else { throw RunningSumUpscaler.Crash() }
        return RunningSumUpscaler(sum: state.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) }, crashAfter: crashAfter)
    }
}

final class ResumeTests: XCTestCase {
    private func options(resume: Bool = false, every: Int = 2, segment: Int = 250) -> JobOptions {
        var options = JobOptions()
        options.resume = resume
        options.checkpointEvery = every
        options.segmentFrames = segment
        return options
    }

    private func writeSequence(_ folder: String, frames: Int) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for index in 0..<frames {
            try testFrame(width: 8, height: 8, seed: index * 3 + 1).writePNG(to: folder + String(format: "/f%02d.png", index))
        }
    }

    func testAnInterruptedFolderJobResumesToTheSameFrames() throws {
        let root = try makeTemporaryFolder(self)
        try writeSequence(root + "/clip/seq", frames: 7)
        let job = { (out: String) in try VideoJob.plan(inPath: root + "/clip", outPath: root + "/" + out) }
        try JobRunner(job: try job("plain"), options: options()).run(factory: RunningSumFactory())

        let crashing = RunningSumFactory()
        crashing.crashAfter = 5
        var warnings: [String] = []
        XCTAssertThrowsError(try JobRunner(job: try job("resumed"), options: options()) {
            if case .warning(let text) = $0 { warnings.append(text) }
        }.run(factory: crashing)) { XCTAssertTrue($0 is RunningSumUpscaler.Crash) }
        let work = root + "/resumed/clip/.seq.resume"
        XCTAssertEqual(try JobCheckpoint.read(from: work + "/checkpoint")?.checkpoint.framesDone, 4)
        XCTAssertTrue(warnings.contains { $0.contains(work) && $0.contains("--resume") }, "\(warnings)")

        // Without --resume the checkpoint is not silently thrown away.
        XCTAssertThrowsError(try JobRunner(job: try job("resumed"), options: options()).run(factory: RunningSumFactory())) {
            XCTAssertEqual($0 as? VideoJobError, .interruptedRunFound(folder: work))
        }
        let resuming = RunningSumFactory()
        var events: [JobEvent] = []
        try JobRunner(job: try job("resumed"), options: options(resume: true)) { events.append($0) }.run(factory: resuming)
        XCTAssertEqual(resuming.resumedStates.count, 1)
        XCTAssertTrue(events.contains(.resumed(name: "seq", framesDone: 4)))
        let progress = events.compactMap { event -> Int? in if case .frameFinished(let p) = event { return p.framesDone } else { return nil } }
        XCTAssertEqual(progress, [5, 6, 7])
        for index in 0..<7 {
            let name = String(format: "clip/seq/f%02d.png", index)
            XCTAssertEqual(try RGBImage(contentsOf: root + "/resumed/" + name), try RGBImage(contentsOf: root + "/plain/" + name), name)
        }
        XCTAssertEqual(allFiles(under: root + "/resumed"), allFiles(under: root + "/plain"), "the work folder is gone")
    }

    func testFinishedSequencesAreSkippedWhenAJobResumes() throws {
        let root = try makeTemporaryFolder(self)
        try writeSequence(root + "/clip/a", frames: 3)
        try writeSequence(root + "/clip/b", frames: 3)
        let job = try VideoJob.plan(inPath: root + "/clip", outPath: root + "/out")
        let crashing = RunningSumFactory()
        crashing.crashAfter = 1
        crashing.crashingSequence = "b"
        XCTAssertThrowsError(try JobRunner(job: job, options: options()).run(factory: crashing))
        XCTAssertEqual(try JobCheckpoint.read(from: root + "/out/clip/.a.resume/checkpoint")?.checkpoint.complete, true)
        var started: [String] = []
        let resuming = RunningSumFactory()
        try JobRunner(job: job, options: options(resume: true)) {
            if case .frameFinished(let progress) = $0 { started.append(progress.sequence) }
        }.run(factory: resuming)
        XCTAssertEqual(started, ["b", "b", "b"])
    }

    func testACheckpointOfAnotherInputOrRangeIsRefused() throws {
        let root = try makeTemporaryFolder(self)
        try writeSequence(root + "/clip/seq", frames: 5)
        let job = try VideoJob.plan(inPath: root + "/clip", outPath: root + "/out")
        let crashing = RunningSumFactory()
        crashing.crashAfter = 3
        XCTAssertThrowsError(try JobRunner(job: job, options: options()).run(factory: crashing))
        let checkpoint = root + "/out/clip/.seq.resume/checkpoint"

        var ranged = options(resume: true)
        ranged.selection = FrameSelection(startFrame: 1)
        XCTAssertThrowsError(try JobRunner(job: job, options: ranged).run(factory: RunningSumFactory())) {
            guard case .checkpointMismatch(let path, let difference)? = $0 as? VideoJobError else { return XCTFail("\($0)") }
            XCTAssertEqual(path, checkpoint)
            XCTAssertEqual(difference, "frames 0..<end were selected, this run selects 1..<end")
        }
        try testFrame(width: 8, height: 8, seed: 99).writePNG(to: root + "/clip/seq/f00.png")
        XCTAssertThrowsError(try JobRunner(job: job, options: options(resume: true)).run(factory: RunningSumFactory())) {
            XCTAssertEqual($0 as? VideoJobError, .checkpointMismatch(path: checkpoint, difference: "the input has changed"))
            XCTAssertEqual("\($0)".split(separator: "\n").count, 1)
        }
        // A damaged file is named, not trusted.
        try Data("stream-diffvsr job checkpoint\ngarbage".utf8).write(to: URL(fileURLWithPath: checkpoint))
        XCTAssertThrowsError(try JobRunner(job: job, options: options(resume: true)).run(factory: RunningSumFactory())) {
            guard case .checkpointUnreadable(let path, _)? = $0 as? VideoJobError else { return XCTFail("\($0)") }
            XCTAssertEqual(path, checkpoint)
        }
    }

    func testAFrameRangeOfAFolderWritesOnlyThoseFrames() throws {
        let root = try makeTemporaryFolder(self)
        try writeSequence(root + "/clip/seq", frames: 6)
        var ranged = options()
        ranged.selection = FrameSelection(startFrame: 2, endFrame: 4)
        try JobRunner(job: try VideoJob.plan(inPath: root + "/clip", outPath: root + "/out"), options: ranged).run(factory: FakeFactory())
        XCTAssertEqual(allFiles(under: root + "/out"), ["clip", "clip/seq", "clip/seq/f02.png", "clip/seq/f03.png"])
        XCTAssertEqual(try RGBImage(contentsOf: root + "/out/clip/seq/f03.png"), NearestUpscaler.nearest4(testFrame(width: 8, height: 8, seed: 10)))

        ranged.selection = FrameSelection(startFrame: 6)
        XCTAssertThrowsError(try JobRunner(job: try VideoJob.plan(inPath: root + "/clip", outPath: root + "/out2"), options: ranged).validate()) {
            XCTAssertEqual($0 as? VideoJobError, .selectionEmpty(path: root + "/clip/seq", selection: "--start-frame 6", frameCount: 6))
        }
        ranged.selection = FrameSelection(startSeconds: 1)
        XCTAssertThrowsError(try JobRunner(job: try VideoJob.plan(inPath: root + "/clip", outPath: root + "/out2"), options: ranged).validate()) {
            XCTAssertTrue("\($0)".contains("--start-frame/--end-frame for frame folders"), "\($0)")
        }
    }

    func testTimeSelectionsBecomeTheFramesShownInThatSpan() throws {
        let rate = FrameRate(numerator: 24, denominator: 1)
        XCTAssertEqual(try FrameSelection(startSeconds: 0.125, durationSeconds: 0.25).frames(rate: rate), 3..<9)
        XCTAssertEqual(try FrameSelection(startSeconds: 0.1).frames(rate: rate), 3..<Int.max)
        let ntsc = FrameRate(numerator: 30000, denominator: 1001)
        XCTAssertEqual(try FrameSelection(startSeconds: 1001.0 / 30000 * 10, durationSeconds: 1001.0 / 30000 * 5).frames(rate: ntsc), 10..<15)
        XCTAssertThrowsError(try FrameSelection(startFrame: 1, startSeconds: 2).frames(rate: rate))
        XCTAssertThrowsError(try FrameSelection(startFrame: 4, endFrame: 4).frames(rate: rate))
        XCTAssertEqual(try FrameSelection(durationSeconds: 0.001).frames(rate: rate), 0..<1, "frame 0 is shown at 0 s")
        XCTAssertThrowsError(try FrameSelection(startSeconds: 0.01, durationSeconds: 0.01).frames(rate: rate), "no frame starts in that span")
    }
}
