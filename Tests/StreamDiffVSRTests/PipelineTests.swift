// The streaming pipeline end to end. Self-contained tests use the tiny model of
// tools/fixtures/gen_pipeline.py with formula RAFT weights and check stream behaviour; the golden test
// reproduces the ORIGINAL pipeline's run (shared/golden/visible) when that folder sits beside the repo.

import Checkpoints
import Foundation
import Media
@testable import StreamDiffVSR
import TensorEngine
import TestSupport
import XCTest

final class PipelineTests: XCTestCase {
    private var fixtures: URL { TinyPipeline.fixtures }

    private func tinyPipeline() throws -> Pipeline {
        try TinyPipeline.load()
    }

    /// A moving pattern: frame `index` of a synthetic clip, `width` x `height`.
    private func syntheticFrame(_ index: Int, width: Int = 32, height: Int = 32) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let phase = Double(x + 2 * index) * 0.4 + Double(y) * 0.25
                pixels[(y * width + x) * 3] = UInt8(127.5 + 100 * sin(phase))
                pixels[(y * width + x) * 3 + 1] = UInt8(x * 255 / max(width - 1, 1))
                pixels[(y * width + x) * 3 + 2] = UInt8((x - 2 * index - 12) * (x - 2 * index - 12) + (y - 16) * (y - 16) < 40 ? 230 : 40)
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    func testFramesAreFourTimesLargerAndDeterministicPerSeed() throws {
        let pipeline = try tinyPipeline()
        var options = SessionOptions()
        options.seed = 7
        let first = try pipeline.makeSession(options)
        let again = try pipeline.makeSession(options)
        options.seed = 8
        let otherSeed = try pipeline.makeSession(options)
        for index in 0..<2 {
            let frame = syntheticFrame(index)
            let output = try first.upscale(frame)
            XCTAssertEqual(output.width, 128)
            XCTAssertEqual(output.height, 128)
            XCTAssertEqual(try again.upscale(frame), output, "same seed, same frames")
            XCTAssertNotEqual(try otherSeed.upscale(frame), output, "another seed gives other noise")
        }
        XCTAssertEqual(first.frameIndex, 2)
    }

    func testInterleavedSessionsEqualSeparateRuns() throws {
        let pipeline = try tinyPipeline()
        let clipA = (0..<3).map { syntheticFrame($0) }
        let clipB = (0..<3).map { syntheticFrame(5 - $0) }
        var options = SessionOptions()
        options.seed = 3
        let aloneA = try pipeline.makeSession(options)
        let expectedA = try clipA.map { try aloneA.upscale($0) }
        let aloneB = try pipeline.makeSession(options)
        let expectedB = try clipB.map { try aloneB.upscale($0) }

        let sessionA = try pipeline.makeSession(options)
        let sessionB = try pipeline.makeSession(options)
        for index in 0..<3 {
            XCTAssertEqual(try sessionB.upscale(clipB[index]), expectedB[index], "stream B frame \(index)")
            XCTAssertEqual(try sessionA.upscale(clipA[index]), expectedA[index], "stream A frame \(index)")
        }
    }

    func testTemporalGuidanceUsesThePreviousFrame() throws {
        let pipeline = try tinyPipeline()
        var options = SessionOptions()
        options.seed = 11
        let stream = try pipeline.makeSession(options)
        _ = try stream.upscale(syntheticFrame(0))
        let guided = try stream.upscale(syntheticFrame(1))
        // The same frame with the same noise as the first frame of a fresh stream has no guidance.
        var generator = GaussianNoise(seed: 11, stream: 1)
        options.initialLatents = Tensor(shape: [1, 4, 32, 32], scalars: (0..<4096).map { _ in generator.next() })
        let unguided = try pipeline.makeSession(options).upscale(syntheticFrame(1))
        XCTAssertNotEqual(guided, unguided)
    }

    func testInjectedLatentsAreUsedPerFrame() throws {
        let pipeline = try tinyPipeline()
        var options = SessionOptions()
        var generator = GaussianNoise(seed: 99, stream: 0)
        options.initialLatents = Tensor(shape: [1, 4, 8, 8], scalars: (0..<256).map { _ in generator.next() })
        let session = try pipeline.makeSession(options)
        let noise = session.initialNoise(height: 8, width: 8)
        assertClose(noise, options.initialLatents!.reshaped([1, 4, 8, 8]) * session.scheduler.initNoiseSigma, tolerance: 0)
    }

    func testFramesOfAnotherSizeAndTooSmallFramesAreRefused() throws {
        let pipeline = try tinyPipeline()
        let session = try pipeline.makeSession()
        _ = try session.upscale(syntheticFrame(0, width: 8, height: 12))
        XCTAssertThrowsError(try session.upscale(syntheticFrame(1, width: 12, height: 8))) { error in
            XCTAssertTrue("\(error)".contains("12x8"), "\(error)")
        }
        XCTAssertThrowsError(try pipeline.makeSession().upscale(syntheticFrame(0, width: 3, height: 9))) { error in
            XCTAssertTrue("\(error)".contains("too small"), "\(error)")
        }
    }

    func testWrongInitialLatentShapeIsAClearError() throws {
        var options = SessionOptions()
        options.initialLatents = Tensor(zeros: [2, 3, 8, 8])
        XCTAssertThrowsError(try tinyPipeline().makeSession(options)) { error in
            XCTAssertTrue("\(error)".contains("[N, 4, h, w]"), "\(error)")
        }
    }

    /// The original pipeline's own run: every decoded frame within 1e-4 of its float output and every
    /// PNG at >= 60 dB (a correct float32 port reaches ~90).
    func testGoldenRunOfTheOriginalPipelineWhenAvailable() throws {
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/golden")
        let visible = golden.appendingPathComponent("visible")
        guard FileManager.default.fileExists(atPath: visible.appendingPathComponent("case.json").path) else {
            throw XCTSkip("shared/golden is not beside the repository")
        }
        let pipeline = try Pipeline(model: ModelRepository(root: visible.appendingPathComponent("model")),
                                    flowWeights: golden.appendingPathComponent("raft_large_random.pth"))
        var options = SessionOptions()
        options.initialLatents = try SafeTensorsFile(path: visible.appendingPathComponent("latents.safetensors").path).tensor("latents")
        let session = try pipeline.makeSession(options)
        let expectedFloats = try SafeTensorsFile(path: visible.appendingPathComponent("expected_float.safetensors").path)
        for index in 0..<3 {
            let name = String(format: "frame_%04d.png", index + 1)
            let frame = try ImageFile.read(visible.appendingPathComponent("input/clip/seq1/\(name)").path)
            let decoded = try session.decodeNextFrame(frame)
            assertClose(decoded, try expectedFloats.tensor(String(format: "frame_%04d", index)), tolerance: 1e-4, "frame \(index)")
            let expected = try ImageFile.read(visible.appendingPathComponent("expected/clip/seq1/\(name)").path)
            XCTAssertGreaterThanOrEqual(psnr(session.postprocess(decoded), expected), 60, name)
        }
    }

    private func psnr(_ a: RGBImage, _ b: RGBImage) -> Double {
        let squared = zip(a.pixels, b.pixels).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) }
        let mse = squared / Double(a.pixels.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }
}
