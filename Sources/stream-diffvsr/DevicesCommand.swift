import ArgumentParser
import BackendInterface
import Foundation
import TensorEngine

/// `stream-diffvsr devices`: every compute device, and the one `--device auto` takes.
struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the compute devices (the CPU engine and every Vulkan device) and the one --device auto picks."
    )

    func run() throws {
        for line in Self.report() { print(line) }
    }

    /// One line per device (identifier, kind, name, driver, memory, fp16), then the `auto` choice.
    static func report() -> [String] {
        let cpu = Device.cpu
        let gpus = Device.accelerators(includingSoftware: true)
        let automatic = (try? Device.open(.automatic))
        var lines: [String] = []
        for device in [cpu] + gpus {
            let info = device.info
            let memory = String(format: "%.1f GiB", Double(info.memoryBytes) / 1_073_741_824)
            let marker = automatic?.device == device ? "  <- auto" : ""
            lines.append("\(info.identifier): \(info.name) [\(info.kind.rawValue)] driver \(info.driver), memory \(memory), "
                + "fp16 \(info.supportsFloat16 ? "yes" : "no")\(marker)")
        }
        if let reason = Device.acceleratorsUnavailableReason { lines.append("vulkan: \(reason)") }
        if let note = automatic?.note { lines.append("auto: \(note)") }
        return lines
    }
}
