import ArgumentParser
import TensorEngine
import Foundation

/// The version `doctor` and `--version` report.
let streamDiffVSRVersion = "0.1.0"

struct StreamDiffVSRCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream-diffvsr",
        abstract: "Stream-DiffVSR video super-resolution (x4) on the CPU.",
        version: streamDiffVSRVersion,
        subcommands: [UpscaleCommand.self, EvalCommand.self, DoctorCommand.self, ServeCommand.self, WorkerCommand.self],
        defaultSubcommand: UpscaleCommand.self
    )
}

/// Prints the one line a failure ends with and exits non-zero (ArgumentParser would add usage text).
func exitWithError(_ error: Error) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    return ExitCode.failure
}

extension DeviceChoice: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}
