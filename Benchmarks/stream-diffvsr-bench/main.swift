// stream-diffvsr-bench: engine and model-level benchmarks, each printed as tab-separated lines that
// Benchmarks/run.sh and Benchmarks/run_models.sh join with the PyTorch CPU numbers.
//
//   stream-diffvsr-bench [engine] [--seconds S] [name filter...]          hot ops, GFLOP/s (default)
//   stream-diffvsr-bench unet|controlnet|decoder HxW --models DIR         one forward at latent HxW
//   stream-diffvsr-bench features HxW --models DIR                        decoder guidance features of an HxW image
//   stream-diffvsr-bench raft HxW --flow raft.pth                         one RAFT-large flow of two HxW images
//   stream-diffvsr-bench load --models DIR                                seconds to load the four networks
//   stream-diffvsr-bench pipeline --model DIR --flow raft.pth [--frames N] [--size WxH] [--tile auto|none|N]
//                        [--max-memory BYTES] [--tile-blending latent|output] [--steps N]
//                        [--compare-cpu N]   (PSNR of the first N frames against the CPU engine)
//   stream-diffvsr-bench seam --model DIR --flow raft.pth [--frames N] [--size WxH] [--chunk C] [--warmups 0,2,4,8]
//                        [--steps S]                                   chunk seams vs one stream (PSNR)
// Common: --device auto|cpu|vulkan[:N], --precision fp32|fp16 (the device's activation storage),
// --threads N, --cpu-time (process CPU time / threads instead of the wall clock), --calls N.

import Foundation
import TensorEngine

struct BenchmarkOptions {
    var seconds = 2.0
    var addLatency = 3.0
    var cpuTime = false
    var calls = 2
    var models = "/work/bench-models"
    var model = "/work/shared/golden/visible/model"
    var flow = "/work/shared/golden/raft_large_random.pth"
    var frames = 200
    var size = (width: 40, height: 32)
    /// Engine: name filters. Models: the HxW sizes.
    var filters: [String] = []
    var tiling = "none"
    var maxMemory: UInt64?
    var tileBlending = "latent"
    /// Denoising steps per frame (pipeline: nil is the model's default, 4; seam: 4 unless given).
    var steps: Int?
    var chunkFrames = 8
    var warmups = [0, 2, 4, 8]
    var deviceChoice = DeviceChoice.cpu
    var activationType = ElementType.float32
    /// Pipeline: frames also upscaled on the CPU engine for a PSNR comparison.
    var compareCPUFrames = 0
    var threads: Int?
    /// Opened once the arguments are parsed.
    var device = Device.cpu
}

/// "HxW" (or "WxH" with `widthFirst`) as (height, width).
func parseSize(_ text: String, widthFirst: Bool = false) -> (height: Int, width: Int)? {
    let parts = text.split(separator: "x").compactMap { Int($0) }
    guard parts.count == 2 else { return nil }
    return widthFirst ? (parts[1], parts[0]) : (parts[0], parts[1])
}

let subcommands: Set = ["engine", "load", "unet", "controlnet", "decoder", "features", "raft", "pipeline", "seam"]
var options = BenchmarkOptions()
var command: String?
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--seconds": options.seconds = Double(arguments.next() ?? "") ?? options.seconds
    case "--threads": options.threads = Int(arguments.next() ?? "")
    case "--device": options.deviceChoice = DeviceChoice(arguments.next() ?? "") ?? options.deviceChoice
    case "--precision": options.activationType = ElementType(precisionName: arguments.next() ?? "") ?? options.activationType
    case "--compare-cpu": options.compareCPUFrames = Int(arguments.next() ?? "") ?? 0
    case "--cpu-time": options.cpuTime = true
    case "--add-latency": options.addLatency = Double(arguments.next() ?? "") ?? options.addLatency
    case "--calls": options.calls = Int(arguments.next() ?? "") ?? options.calls
    case "--models": options.models = arguments.next() ?? options.models
    case "--model": options.model = arguments.next() ?? options.model
    case "--flow": options.flow = arguments.next() ?? options.flow
    case "--frames": options.frames = Int(arguments.next() ?? "") ?? options.frames
    case "--chunk": options.chunkFrames = Int(arguments.next() ?? "") ?? options.chunkFrames
    case "--warmups": options.warmups = (arguments.next() ?? "").split(separator: ",").compactMap { Int($0) }
    case "--tile": options.tiling = arguments.next() ?? options.tiling
    case "--max-memory": options.maxMemory = UInt64(arguments.next() ?? "")
    case "--tile-blending": options.tileBlending = arguments.next() ?? options.tileBlending
    case "--steps": options.steps = Int(arguments.next() ?? "")
    case "--size":
        if let size = parseSize(arguments.next() ?? "", widthFirst: true) { options.size = (size.width, size.height) }
    case _ where command == nil && options.filters.isEmpty && subcommands.contains(argument): command = argument
    default: options.filters.append(argument)
    }
}

do {
    let (device, note) = try Device.open(options.deviceChoice, threads: options.threads)
    options.device = try device.withActivations(options.activationType)
    if let note { print("# \(note)") }
    switch command ?? "engine" {
    case "engine": runEngineBenchmark(options: options)
    case "pipeline": try runPipelineBenchmark(options: options)
    case "seam": try runSeamBenchmark(options: options)
    case "load": try runLoadBenchmark(options: options)
    case let model: try runModelBenchmark(model, options: options)
    }
} catch {
    FileHandle.standardError.write("stream-diffvsr-bench: \(error)\n".data(using: .utf8)!)
    exit(1)
}
