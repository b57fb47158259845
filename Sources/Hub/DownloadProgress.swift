import Foundation

/// Receives download progress; the CLI shows a bar, tests record the calls.
public protocol DownloadProgressReporting: AnyObject, Sendable {
    /// A download of `file` starts with `completed` bytes already on disk (a resumed download) out of `total` (nil when unknown).
    func downloadStarted(file: String, completed: Int64, total: Int64?)
    func downloadProgressed(file: String, completed: Int64, total: Int64?)
    func downloadFinished(file: String)
}

/// A one-line progress bar on standard error with bytes/s and ETA, redrawn at most ten times a second.
public final class TerminalProgressBar: DownloadProgressReporting, @unchecked Sendable {
    private let lock = NSLock()
    private var startTime = Date()
    private var startBytes: Int64 = 0
    private var lastDraw = Date.distantPast
    private let width: Int

    public init(width: Int = 30) { self.width = width }

    public func downloadStarted(file: String, completed: Int64, total: Int64?) {
        lock.lock()
        defer { lock.unlock() }
        startTime = Date()
        startBytes = completed
        lastDraw = .distantPast
    }

    public func downloadProgressed(file: String, completed: Int64, total: Int64?) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        FileHandle.standardError.write(Data(("\r" + line(file: file, completed: completed, total: total, now: now)).utf8))
    }

    public func downloadFinished(file: String) {
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(file): done\n".utf8))
    }

    func line(file: String, completed: Int64, total: Int64?, now: Date) -> String {
        let elapsed = max(now.timeIntervalSince(startTime), 1e-3)
        let rate = Double(completed - startBytes) / elapsed
        var text = "\(file) \(TerminalProgressBar.bytes(Double(completed)))"
        if let total, total > 0 {
            let fraction = min(Double(completed) / Double(total), 1)
            let filled = Int(fraction * Double(width))
            let eta = rate > 0 ? Double(total - completed) / rate : .infinity
            text = "\(file) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] "
                + "\(TerminalProgressBar.bytes(Double(completed)))/\(TerminalProgressBar.bytes(Double(total))) "
                + "\(Int(fraction * 100))% ETA \(TerminalProgressBar.duration(eta))"
        }
        return text + " \(TerminalProgressBar.bytes(rate))/s"
    }

    static func bytes(_ count: Double) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = count
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(Int(value)) B" : String(format: "%.1f", value) + " " + units[unit]
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--:--" }
        let total = Int(seconds.rounded())
        return total >= 3600 ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
                             : String(format: "%02d:%02d", total / 60, total % 60)
    }
}
