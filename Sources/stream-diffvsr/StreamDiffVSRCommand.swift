import ArgumentParser
import TensorEngine
import Foundation

/// The version `doctor` and `--version` report.
let streamDiffVSRVersion = "0.1.0"

/// The `stream-diffvsr` command: `upscale` (the default), `eval`, `doctor`, `devices` and `serve`.
@main
struct StreamDiffVSRCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream-diffvsr",
        abstract: "Stream-DiffVSR video super-resolution (x4).",
        version: streamDiffVSRVersion,
        subcommands: [UpscaleCommand.self, EvalCommand.self, DoctorCommand.self, DevicesCommand.self, ServeCommand.self,
                      WorkerCommand.self],
        defaultSubcommand: UpscaleCommand.self
    )
}

/// Prints the one line a failure ends with and exits non-zero (ArgumentParser would add usage text).
func exitWithError(_ error: Error) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    return ExitCode.failure
}

/// `--precision fp32|fp16|bf16`: the device's activation storage type.
extension ElementType: ExpressibleByArgument {
    public init?(argument: String) { self.init(precisionName: argument) }
    public static var allValueStrings: [String] { allCases.map(\.precisionName) }
}

/// `--device`, `--precision` and `--threads`, shared by `upscale`, `serve` and `worker`.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Where to compute: auto (the first discrete GPU, else the CPU), cpu, vulkan or vulkan:N (see `stream-diffvsr devices`).")
    var device: DeviceChoice = .automatic

    @Option(help: ArgumentHelp(
        "Activation storage: fp32 (default) or fp16 (fp16 storage, float32 arithmetic inside every kernel).",
        discussion: "fp16 needs a device that computes on it (a Vulkan GPU with 16-bit storage); the CPU engine refuses it in one line. "
            + "Golden case on lavapipe: fp32 89-96 dB, fp16 55-59 dB (docs/gpu.md). STREAM_DIFFVSR_PRECISION sets the default."))
    var precision: ElementType?

    @Option(help: "CPU engine worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    /// The option, else STREAM_DIFFVSR_PRECISION, else fp32.
    var activationType: ElementType {
        precision ?? ProcessInfo.processInfo.environment["STREAM_DIFFVSR_PRECISION"].flatMap(ElementType.init(precisionName:)) ?? .float32
    }

    func apply(to settings: inout PipelineSettings) {
        settings.device = device
        settings.threads = threads
        settings.activationType = activationType
    }
}

extension DeviceChoice: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}
