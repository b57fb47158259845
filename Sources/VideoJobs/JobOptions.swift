import Media

/// Which frames of each sequence or video a job upscales: by index (`--start-frame`/`--end-frame`,
/// like ffmpeg's trim filter: the first frame kept and the first frame dropped, 0-based) or, for videos,
/// by time (`--start`/`--duration` in seconds, converted to the frames shown in that span).
public struct FrameSelection: Sendable, Equatable {
    public var startFrame: Int?
    public var endFrame: Int?
    public var startSeconds: Double?
    public var durationSeconds: Double?

    public init(startFrame: Int? = nil, endFrame: Int? = nil, startSeconds: Double? = nil, durationSeconds: Double? = nil) {
        self.startFrame = startFrame
        self.endFrame = endFrame
        self.startSeconds = startSeconds
        self.durationSeconds = durationSeconds
    }

    var isByTime: Bool { startSeconds != nil || durationSeconds != nil }

    func validate() throws {
        if isByTime && (startFrame != nil || endFrame != nil) {
            throw VideoJobError.invalidSelection("use either --start-frame/--end-frame or --start/--duration, not both")
        }
        if let startFrame, startFrame < 0 { throw VideoJobError.invalidSelection("--start-frame must be 0 or more, got \(startFrame)") }
        if let endFrame, endFrame <= (startFrame ?? 0) {
            throw VideoJobError.invalidSelection("--end-frame \(endFrame) must be after --start-frame \(startFrame ?? 0) (it is the first frame left out)")
        }
        if let startSeconds, !(startSeconds >= 0 && startSeconds.isFinite) {
            throw VideoJobError.invalidSelection("--start must be 0 or more seconds, got \(startSeconds)")
        }
        if let durationSeconds, !(durationSeconds > 0 && durationSeconds.isFinite) {
            throw VideoJobError.invalidSelection("--duration must be more than 0 seconds, got \(durationSeconds)")
        }
    }

    /// Frame indices; the upper bound is `Int.max` when the selection runs to the end. Frame i is shown
    /// at i / rate seconds, so a time span keeps the frames with start <= i / rate < start + duration.
    func frames(rate: FrameRate?) throws -> Range<Int> {
        try validate()
        guard isByTime else { return (startFrame ?? 0)..<(endFrame ?? Int.max) }
        guard let rate else {
            throw VideoJobError.invalidSelection("--start/--duration apply to video files; use --start-frame/--end-frame for frame folders")
        }
        func firstFrame(atOrAfter seconds: Double) -> Int {
            let position = seconds * rate.framesPerSecond
            guard position < Double(Int.max / 2) else { return Int.max }
            return Int((position - 1e-6).rounded(.up))
        }
        let start = firstFrame(atOrAfter: startSeconds ?? 0)
        let end = durationSeconds.map { firstFrame(atOrAfter: (startSeconds ?? 0) + $0) } ?? Int.max
        guard end > start else {
            throw VideoJobError.invalidSelection("--duration \(durationSeconds ?? 0) s is shorter than one frame at \(rate) fps")
        }
        return start..<end
    }
}

/// How a job runs beyond the input and output paths.
public struct JobOptions: Sendable {
    public var selection = FrameSelection()
    /// Save the job's state after every this many frames (and resume from the last save with `resume`).
    public var checkpointEvery = 10
    /// Frames per separately encoded video segment (rounded up to a multiple of `checkpointEvery`, so a
    /// segment always ends at a checkpoint). Each segment starts with a keyframe.
    public var segmentFrames = 250
    /// Continue from the checkpoint an interrupted run left beside the output (a fresh start when there is none).
    public var resume = false
    public var encoder = VideoEncoderSettings()
    public var keepAudio = true
    public var keepSubtitles = true

    public init() {}

    func validate() throws {
        guard checkpointEvery >= 1 else { throw VideoJobError.invalidOption("--checkpoint-every must be at least 1, got \(checkpointEvery)") }
        guard segmentFrames >= 1 else { throw VideoJobError.invalidOption("--segment-frames must be at least 1, got \(segmentFrames)") }
        try selection.validate()
    }

    var effectiveSegmentFrames: Int {
        let segments = segmentFrames / checkpointEvery + (segmentFrames % checkpointEvery == 0 ? 0 : 1)
        let (rounded, overflow) = segments.multipliedReportingOverflow(by: checkpointEvery)
        return overflow ? checkpointEvery : rounded
    }
}
