import ArgumentParser
import Foundation
import Hub
import Media
import TensorEngine

/// Everything a bug report needs, one fact per line.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Print version, runtime, CPU, compute devices, ffmpeg and cache information for bug reports."
    )

    static let defaultModel = "Jamichsu/Stream-DiffVSR"
    static let defaultFlowWeightsFile = "raft_large_C_T_SKHT_V2-ff5fadd5.pth"

    func run() throws {
        let info = ProcessInfo.processInfo
        let hub = HubConfiguration.fromEnvironment()
        line("stream-diffvsr", streamDiffVSRVersion)
        line("swift", Self.swiftVersion)
        line("os", info.operatingSystemVersionString)
        line("cpu", Self.cpuModel ?? "unknown")
        line("cpu engine", Device.cpu.info.driver)
        line("memory", String(format: "%.1f GiB", Double(info.physicalMemory) / 1_073_741_824))
        for device in DevicesCommand.report() { line("device", device) }
        if let tools = try? FFmpegTools.locate() {
            line("ffmpeg", "\(tools.ffmpeg) (\(tools.version() ?? "version unknown"))")
            line("ffprobe", tools.ffprobe)
        } else {
            line("ffmpeg", "not found (video files need ffmpeg and ffprobe on PATH; frame folders work without)")
        }
        line("hub cache", hub.cacheDirectory.path)
        line("hub offline", hub.offline ? "yes (HF_HUB_OFFLINE)" : "no")
        line("hub token", hub.token == nil ? "none" : "set")
        let model = HubCacheRepo(cacheDirectory: hub.cacheDirectory, repoID: Self.defaultModel)
        line("default model", "\(Self.defaultModel): " + (model.commit(forRevision: "main").map { "cached (\($0.prefix(12)))" } ?? "not cached"))
        let flow = hub.torchCheckpointsDirectory.appendingPathComponent(Self.defaultFlowWeightsFile)
        line("torch hub checkpoints", hub.torchCheckpointsDirectory.path)
        line("flow weights", "\(Self.defaultFlowWeightsFile): " + (FileManager.default.fileExists(atPath: flow.path) ? "cached" : "not cached"))
    }

    private func line(_ key: String, _ value: String) {
        print("\(key + ":")".padding(toLength: 23, withPad: " ", startingAt: 0) + value)
    }

    static var swiftVersion: String {
        #if compiler(>=6.3)
        let compiler = "6.3+"
        #elseif compiler(>=6.2)
        let compiler = "6.2"
        #elseif compiler(>=6.1)
        let compiler = "6.1"
        #else
        let compiler = "6.0"
        #endif
        #if os(Linux)
        let platform = "Linux"
        #else
        let platform = "macOS"
        #endif
        #if arch(x86_64)
        let arch = "x86_64"
        #else
        let arch = "arm64"
        #endif
        return "compiler \(compiler), \(platform) \(arch)"
    }

    static var cpuModel: String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
    }
}
