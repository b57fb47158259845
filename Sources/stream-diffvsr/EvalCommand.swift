import ArgumentParser
import Checkpoints
import Evaluation
import Foundation
import Hub
import Models
import TensorEngine

/// `eval`: the paper's metrics on a user's own clips.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score upscaled frames against ground truth: PSNR and SSIM (Y and RGB, as BasicSR) and the warping error.",
        discussion: """
        OUTPUTS and REFERENCE are each a video file, a folder of frames, or a folder of sequence folders (paired \
        by name, e.g. the OUT/<name> folder `upscale` wrote and the ground-truth folder). Frames are paired in \
        file-name order and must have the same sizes.
        PSNR/SSIM follow BasicSR's calculate_psnr/calculate_ssim: --crop-border pixels dropped from every edge; \
        Y is BT.601 luma (test_y_channel); SSIM uses the 11x11 Gaussian window (sigma 1.5).
        The warping error (E_warp, shown x 1e-3) is the original repository's warp_error: RAFT flow between \
        consecutive reference frames warps the previous output frame onto the current one; mean squared RGB \
        difference in [0, 1] over unoccluded pixels. It runs RAFT twice per frame pair on full-size frames \
        (slow on a CPU; --no-warping-error skips it).
        Per sequence: means over its frames; overall: the mean of the sequence means. --json prints every \
        frame's scores.
        """
    )

    @Option(help: "Upscaled frames: a video, a folder of frames, or a folder of sequence folders.")
    var outputs: String

    @Option(help: "Ground truth laid out like OUTPUTS.")
    var reference: String

    @Option(help: "Pixels dropped from each edge before PSNR/SSIM (BasicSR's crop_border).")
    var cropBorder = 0

    @Flag(help: "Skip the warping error (no flow network needed).")
    var noWarpingError = false

    @Option(name: .customLong("flow-weights"), help: "RAFT-large weights for the warping error: a .pth/.safetensors file or a URL.")
    var flowWeights = "https://download.pytorch.org/models/raft_large_C_T_SKHT_V2-ff5fadd5.pth"

    @Option(help: "RAFT refinement iterations.")
    var flowIterations = 12

    @Option(help: "Where RAFT computes: auto, cpu, vulkan or vulkan:N.")
    var device: DeviceChoice = .automatic

    @Option(help: "CPU engine worker threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Print the scores as JSON (with every frame's scores) instead of a table.")
    var json = false

    func validate() throws {
        guard cropBorder >= 0 else { throw ValidationError("--crop-border must be 0 or more, got \(cropBorder)") }
        guard flowIterations >= 1 else { throw ValidationError("--flow-iterations must be at least 1, got \(flowIterations)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() async throws {
        do {
            let pairs = try EvaluationInput.pairs(outputs: outputs, reference: reference)
            var evaluator = Evaluator()
            evaluator.cropBorder = cropBorder
            if !noWarpingError {
                let (device, note) = try Device.open(device, threads: threads)
                if let note { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
                let file = try await PipelineUpscalerFactory.resolveFlowWeights(flowWeights, hub: HubClient())
                let loader = WeightLoader(try StateDict(contentsOf: file.path), device: device)
                let raft = RAFT(weights: loader)
                try loader.finish(ignoring: RAFT.isUnusedKey)
                let iterations = flowIterations
                evaluator.flow = { raft(image1: $0, image2: $1, iterations: iterations) }
                evaluator.flowDevice = device
            }
            if isatty(STDERR_FILENO) == 1 {
                evaluator.onFrame = { FileHandle.standardError.write(Data("\r\($0): frame \($1)\u{1B}[K".utf8)) }
            }
            let report = try evaluator.evaluate(pairs)
            if isatty(STDERR_FILENO) == 1 { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            if json {
                FileHandle.standardOutput.write(try report.json() + Data("\n".utf8))
            } else {
                print(report.table(), terminator: "")
            }
        } catch {
            throw exitWithError(error)
        }
    }
}
