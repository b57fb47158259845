/// Reported after every frame; enough for a progress bar or a log line.
public struct JobProgress: Sendable, Equatable {
    public let sequence: String
    /// 1-based position of the sequence in the job, and how many there are.
    public let sequenceNumber: Int
    public let sequenceCount: Int
    public let framesDone: Int
    /// nil when a video does not say how many frames it has.
    public let frameCount: Int?
    /// Mean wall-clock seconds per frame so far in this sequence (read + upscale + write).
    public let secondsPerFrame: Double
    public let etaSeconds: Double?
}

public enum JobEvent: Sendable, Equatable {
    /// Something the user should know that does not stop the run (e.g. frames resized to a multiple of 4).
    case warning(String)
    case sequenceStarted(name: String, sequenceNumber: Int, sequenceCount: Int, frameCount: Int?)
    /// A checkpoint was found: the sequence continues after its first `framesDone` frames.
    case resumed(name: String, framesDone: Int)
    case frameFinished(JobProgress)
    case sequenceFinished(name: String, output: String)
}

/// Timing statistics over all frames of a run.
public struct JobSummary: Sendable, Equatable {
    public let frameSeconds: [Double]
    /// From the start of the run (including making the first upscaler) to the first output frame written.
    public let firstFrameLatency: Double?
    public let totalSeconds: Double
    public let outputs: [String]

    public var frames: Int { frameSeconds.count }

    public var meanSecondsPerFrame: Double? {
        frameSeconds.isEmpty ? nil : frameSeconds.reduce(0, +) / Double(frameSeconds.count)
    }

    /// Nearest-rank 95th percentile.
    public var p95SecondsPerFrame: Double? {
        guard !frameSeconds.isEmpty else { return nil }
        let sorted = frameSeconds.sorted()
        let rank = Int((0.95 * Double(sorted.count)).rounded(.up))
        return sorted[max(rank - 1, 0)]
    }
}
