import Foundation

/// The server's timer: removes uploads no job claimed within `uploadLifetime`, and finished jobs (their
/// records and result videos) after `resultRetention`, every `sweepInterval`, whether or not new
/// requests arrive. Result files left by an earlier run (no record any more) go by their age; only
/// files named as the queue names results are touched (the output folder may hold the user's files).
final class Housekeeping: @unchecked Sendable {
    private let uploads: UploadStore
    private let queue: JobQueue
    private let outputFolder: String
    private let limits: ServerLimits
    private let timer: DispatchSourceTimer

    init(uploads: UploadStore, queue: JobQueue, outputFolder: String, limits: ServerLimits) {
        self.uploads = uploads
        self.queue = queue
        self.outputFolder = outputFolder
        self.limits = limits
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "stream-diffvsr housekeeping"))
    }

    func start() {
        let interval = DispatchTimeInterval.milliseconds(Int(max(limits.sweepInterval, 0.01) * 1000))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in self?.sweep() }
        timer.resume()
    }

    func stop() {
        timer.cancel()
    }

    func sweep(now: Date = Date()) {
        uploads.removeExpired(olderThan: now.addingTimeInterval(-limits.uploadLifetime))
        let cutoff = now.addingTimeInterval(-limits.resultRetention)
        let kept = queue.removeFinished(before: cutoff)
        let manager = FileManager.default
        for name in (try? manager.contentsOfDirectory(atPath: outputFolder)) ?? [] {
            let path = (outputFolder as NSString).appendingPathComponent(name)
            guard Housekeeping.isResultName(name), !kept.contains(path), let attributes = try? manager.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType == .typeRegular,
                  let modified = attributes[.modificationDate] as? Date, modified < cutoff else { continue }
            try? manager.removeItem(atPath: path)
        }
    }

    /// `<stem>-<first 8 hex digits of the job id>_x4.mp4`, as `JobQueue.submit` names a result.
    static func isResultName(_ name: String) -> Bool {
        guard name.hasSuffix("_x4.mp4") else { return false }
        let stem = name.dropLast("_x4.mp4".count)
        let id = stem.suffix(9)
        return id.count == 9 && id.first == "-" && id.dropFirst().allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// Free bytes on the file system holding `path`, or nil when it cannot be asked.
    static func freeBytes(at path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }
}
