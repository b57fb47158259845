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

extension DeviceChoice: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}
