import Foundation
import VideoJobs

/// Shows job progress on stderr: a redrawn bar on a terminal, one plain line per frame otherwise
/// (logs and CI). Results and the summary go to stdout.
final class ProgressRenderer {
    private let isTerminal: Bool
    private let barWidth = 24
    private var lineOpen = false

    init(isTerminal: Bool = isatty(STDERR_FILENO) == 1) {
        self.isTerminal = isTerminal
    }

    func handle(_ event: JobEvent) {
        switch event {
        case .warning(let text):
            endLine()
            writeError("warning: \(text)\n")
        case .sequenceStarted(let name, let number, let count, let frames):
            endLine()
            let total = frames.map { "\($0) frames" } ?? "frame count unknown"
            writeError("[\(number)/\(count)] \(name): \(total)\n")
        case .resumed(let name, let framesDone):
            endLine()
            writeError("\(name): resuming from the checkpoint after frame \(framesDone)\n")
        case .frameFinished(let progress):
            if isTerminal {
                writeError("\r" + Self.barLine(progress, width: barWidth) + "\u{1B}[K")
                lineOpen = true
            } else {
                writeError(Self.plainLine(progress) + "\n")
            }
        case .sequenceFinished(let name, let output):
            endLine()
            print("Upscaled \(name) and saved to \(output).")
        }
    }

    /// The run's one-line summary; `modelLoadSeconds`: how long the model took to load before it.
    func printSummary(_ summary: JobSummary, modelLoadSeconds: Double) {
        endLine()
        guard let mean = summary.meanSecondsPerFrame, let p95 = summary.p95SecondsPerFrame else {
            print("No frames processed (model loaded in \(Self.seconds(modelLoadSeconds))).")
            return
        }
        let latency = summary.firstFrameLatency.map { Self.seconds($0) } ?? "-"
        print("Summary: model loaded in \(Self.seconds(modelLoadSeconds)); \(summary.frames) frames in \(Self.seconds(summary.totalSeconds)); "
              + "mean \(Self.seconds(mean))/frame, p95 \(Self.seconds(p95))/frame, first frame after \(latency)")
    }

    static func barLine(_ progress: JobProgress, width: Int) -> String {
        let counter: String
        let bar: String
        if let total = progress.frameCount, total > 0 {
            let filled = min(width, progress.framesDone * width / total)
            bar = "|" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "| "
            counter = "\(progress.framesDone)/\(total)"
        } else {
            bar = ""
            counter = "\(progress.framesDone)"
        }
        let eta = progress.etaSeconds.map { " ETA \(clock($0))" } ?? ""
        return "\(progress.sequence) \(bar)\(counter) frames, \(seconds(progress.secondsPerFrame))/frame\(eta)"
    }

    static func plainLine(_ progress: JobProgress) -> String {
        let counter = progress.frameCount.map { "\(progress.framesDone)/\($0)" } ?? "\(progress.framesDone)"
        let eta = progress.etaSeconds.map { ", ETA \(clock($0))" } ?? ""
        return "\(progress.sequence): frame \(counter), \(seconds(progress.secondsPerFrame))/frame\(eta)"
    }

    static func seconds(_ value: Double) -> String {
        String(format: value < 10 ? "%.2f s" : "%.1f s", value)
    }

    static func clock(_ value: Double) -> String {
        let total = Int(value.rounded())
        let hours = total / 3600, minutes = (total % 3600) / 60, secs = total % 60
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
    }

    private func endLine() {
        if lineOpen {
            writeError("\n")
            lineOpen = false
        }
    }

    private func writeError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
