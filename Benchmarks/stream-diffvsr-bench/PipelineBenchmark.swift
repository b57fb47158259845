// Whole-pipeline benchmark: a synthetic LR stream through one StreamSession, seconds per frame and
// resident memory along the way (a session keeps only the previous frame, so RSS must stay flat).

import Foundation
import Media
import StreamDiffVSR
import TensorEngine

/// Frame `index` of a synthetic stream: a smooth pattern drifting by one pixel per frame, so RAFT
/// sees real motion and every frame differs.
func syntheticFrame(_ index: Int, width: Int, height: Int) -> RGBImage {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            let u = Double(x + index) / Double(width), v = Double(y) / Double(height)
            let base = (y * width + x) * 3
            pixels[base] = UInt8(127.5 + 127 * sin(6.28 * u * 2))
            pixels[base + 1] = UInt8(127.5 + 127 * cos(6.28 * (u + v)))
            pixels[base + 2] = UInt8(255 * v)
        }
    }
    return RGBImage(width: width, height: height, pixels: pixels)
}

func runPipelineBenchmark(options: BenchmarkOptions) throws {
    let loadStart = now(CLOCK_MONOTONIC)
    let pipeline = try Pipeline(model: ModelRepository(root: URL(fileURLWithPath: options.model)),
                                flowWeights: URL(fileURLWithPath: options.flow), device: options.device)
    var sessionOptions = SessionOptions()
    switch options.tiling {
    case "none": sessionOptions.tiling = .none
    case "auto": sessionOptions.tiling = .automatic(maxMemoryBytes: options.maxMemory)
    default:
        guard let side = Int(options.tiling) else { throw BenchmarkError(description: "--tile takes auto, none or a size") }
        sessionOptions.tiling = .size(side)
    }
    guard let blending = TileBlending(rawValue: options.tileBlending) else { throw BenchmarkError(description: "--tile-blending: latent or output") }
    sessionOptions.tileBlending = blending
    if let steps = options.steps { sessionOptions.numInferenceSteps = steps }
    let session = try pipeline.makeSession(sessionOptions)
    let (width, height) = options.size
    print("# pipeline \(options.model): loaded in \(String(format: "%.1f", now(CLOCK_MONOTONIC) - loadStart)) s "
          + "(RSS \(String(format: "%.1f", currentResidentMiB() ?? 0)) MiB); "
          + "\(options.frames) frames \(width)x\(height) -> \(width * 4)x\(height * 4), "
          + "\(session.options.numInferenceSteps) steps; \(options.device.info.name): \(options.device.info.driver), "
          + "tiles \(options.tiling) (\(try session.tilePlan(height: height, width: width).map { "\($0.tiles.count) tiles" } ?? "whole frame")), "
          + "\(options.cpuTime ? "CPU time / threads" : "wall clock")")
    let stopwatch = Stopwatch(options: options)
    let peakReset = resetPeakResident()
    var firstFrame = 0.0, guidedFrames: [Double] = []
    var failure: Error?
    var compared: [RGBImage] = []
    for index in 0..<options.frames {
        let frame = syntheticFrame(index, width: width, height: height)
        let seconds = stopwatch.time {
            do {
                let output = try session.upscale(frame)
                if index < options.compareCPUFrames { compared.append(output) }
            } catch { failure = error }
        }
        if let failure { throw failure }
        if index == 0 { firstFrame = seconds } else { guidedFrames.append(seconds) }
        let done = index + 1
        if done == 1 || done % 50 == 0 || done == options.frames {
            print("# after \(done) frames: RSS \(String(format: "%.1f", currentResidentMiB() ?? 0)) MiB, "
                  + "peak \(String(format: "%.1f", peakResidentMiB())) MiB")
        }
    }
    if let memory = options.device.deviceMemory {
        print("# peak device memory \(String(format: "%.0f", Double(memory.peak) / 1_048_576)) MiB "
              + "(\(options.device.activationType.precisionName) activations)")
    }
    if !compared.isEmpty { try compareWithCPU(compared, options: options) }
    let guidedMean = guidedFrames.isEmpty ? 0 : guidedFrames.reduce(0, +) / Double(guidedFrames.count)
    print("# first frame (no temporal guidance) \(String(format: "%.3f", firstFrame)) s; "
          + "guided frames min \(String(format: "%.3f", guidedFrames.min() ?? 0)) s, max \(String(format: "%.3f", guidedFrames.max() ?? 0)) s")
    if peakReset, let framesPeak = peakResidentSinceResetMiB() {
        print("# peak RSS over the frames (after the load): \(String(format: "%.1f", framesPeak)) MiB")
    }
    print("pipeline \(height)x\(width)\t\(String(format: "%.3f", guidedMean))\t\(String(format: "%.0f", peakResidentMiB()))"
          + "\t\(String(format: "%.3f", firstFrame))")
}

/// Upscales the first frames again on the CPU engine (float32) and prints each device frame's PSNR
/// against it: how far the device's arithmetic (and float16 storage) moves the output.
func compareWithCPU(_ frames: [RGBImage], options: BenchmarkOptions) throws {
    let pipeline = try Pipeline(model: ModelRepository(root: URL(fileURLWithPath: options.model)),
                                flowWeights: URL(fileURLWithPath: options.flow), device: Device.cpu)
    var sessionOptions = SessionOptions()
    sessionOptions.tiling = .none
    let session = try pipeline.makeSession(sessionOptions)
    for (index, deviceFrame) in frames.enumerated() {
        let reference = try session.upscale(syntheticFrame(index, width: options.size.width, height: options.size.height))
        var squared = 0.0
        for (a, b) in zip(deviceFrame.pixels, reference.pixels) { squared += pow(Double(a) - Double(b), 2) }
        let mse = squared / Double(max(reference.pixels.count, 1))
        let psnr = mse == 0 ? Double.infinity : 10 * log10(255 * 255 / mse)
        print("# frame \(index): PSNR \(String(format: "%.2f", psnr)) dB against the CPU engine")
    }
}
