// Chunk seams: how far a stream split into chunks (each started fresh after W warm-up frames, as the
// job queue's workers run them) drifts from one uninterrupted stream. Prints, for each W, the PSNR of
// the chunked output against the uninterrupted output at each chunk's first frames, and the mean over
// all frames after the first chunk. Same seed for every session, so W = start frame gives infinity.

import Evaluation
import Foundation
import Media
import StreamDiffVSR

func runSeamBenchmark(options: BenchmarkOptions) throws {
    let pipeline = try Pipeline(model: ModelRepository(root: URL(fileURLWithPath: options.model)),
                                flowWeights: URL(fileURLWithPath: options.flow), device: options.device)
    var sessionOptions = SessionOptions()
    sessionOptions.numInferenceSteps = options.steps ?? 4
    sessionOptions.seed = 42
    let (width, height) = options.size
    let frames = (0..<options.frames).map { syntheticFrame($0, width: width, height: height) }
    let chunk = options.chunkFrames
    guard chunk > 0, chunk < frames.count else { throw BenchmarkError(description: "--chunk must be between 1 and --frames - 1") }
    print("# seam \(options.model): \(frames.count) frames \(width)x\(height), chunks of \(chunk), \(sessionOptions.numInferenceSteps) steps, seed 42")

    func run(_ range: Range<Int>) throws -> [RGBImage] {
        var options = sessionOptions
        options.firstFrameIndex = range.lowerBound
        let session = try pipeline.makeSession(options)
        return try range.map { try session.upscale(frames[$0]) }
    }
    let uninterrupted = try run(0..<frames.count)
    let boundaries = Array(stride(from: chunk, to: frames.count, by: chunk))
    print("W\tseam frame PSNR (mean over \(boundaries.count) seams)\tseam+1\tseam+2\tworst seam\tmean after chunk 1\textra frames")
    for warmup in options.warmups {
        var chunked = Array(uninterrupted[0..<chunk])
        for start in boundaries {
            let end = min(start + chunk, frames.count)
            let outputs = try run(max(0, start - warmup)..<end)
            chunked += outputs.suffix(end - start)
        }
        func psnr(_ index: Int) throws -> Double {
            try ImageQuality.psnr(chunked[index], uninterrupted[index], cropBorder: 0, channels: .rgb)
        }
        /// Over the finite values: a seam whose warm-up reaches back to frame 0 is reproduced exactly.
        func mean(_ values: [Double]) -> Double {
            let finite = values.filter(\.isFinite)
            return finite.isEmpty ? .infinity : finite.reduce(0, +) / Double(finite.count)
        }
        let seam = try boundaries.map(psnr)
        let next = try boundaries.filter { $0 + 1 < frames.count }.map { try psnr($0 + 1) }
        let third = try boundaries.filter { $0 + 2 < frames.count }.map { try psnr($0 + 2) }
        // Frames a warm-up from frame 0 reproduces exactly (infinite PSNR) are left out of the mean.
        let after = try (chunk..<frames.count).map(psnr).filter(\.isFinite)
        let format = { (value: Double) in value.isInfinite ? "inf" : String(format: "%.2f", value) }
        print("\(warmup)\t\(format(mean(seam)))\t\(format(mean(next)))\t\(format(mean(third)))\t\(format(seam.filter(\.isFinite).min() ?? .infinity))\t"
              + "\(format(mean(after)))\t\(String(format: "%.0f%%", 100 * Double(warmup) / Double(chunk)))")
    }
}
