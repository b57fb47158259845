import Prometheus

/// The Prometheus metrics of a front or a worker, in one registry served at /metrics. Workers count
/// frames and tasks; the front refreshes the queue gauges from the queue at each scrape, so they
/// describe the whole cluster, not one process.
public final class QueueMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let frames: Counter
    let frameSeconds: ValueHistogram
    let framesPerSecond: Gauge
    let completedTasks: Counter
    let failedTasks: Counter
    let releasedTasks: Counter
    let lostTasks: Counter
    let jobSeconds: ValueHistogram
    let queuedTasks: Gauge
    let runningTasks: Gauge
    let jobs: [JobState: Gauge]

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        frames = registry.makeCounter(name: "stream_diffvsr_frames_total", help: "Frames upscaled (warm-up frames included).")
        frameSeconds = registry.makeValueHistogram(name: "stream_diffvsr_frame_seconds",
                                                   buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
                                                   help: "Seconds per upscaled frame.")
        framesPerSecond = registry.makeGauge(name: "stream_diffvsr_frames_per_second", help: "Frames per second of the latest frame.")
        let outcome = { (name: String, help: String) in
            registry.makeCounter(name: "stream_diffvsr_tasks_total", labels: [("outcome", name)], help: help)
        }
        let help = "Tasks (chunks and joins) this worker ended, by outcome."
        completedTasks = outcome("completed", help)
        failedTasks = outcome("failed", help)
        releasedTasks = outcome("released", help)
        lostTasks = outcome("lease_lost", help)
        jobSeconds = registry.makeValueHistogram(name: "stream_diffvsr_job_seconds",
                                                 buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600],
                                                 help: "Seconds from submission to the finished output, per job (recorded by the worker that joins it).")
        queuedTasks = registry.makeGauge(name: "stream_diffvsr_queue_depth", help: "Tasks waiting for a worker.")
        runningTasks = registry.makeGauge(name: "stream_diffvsr_tasks_running", help: "Tasks held by a worker now.")
        var jobs: [JobState: Gauge] = [:]
        for state in JobState.allCases {
            jobs[state] = registry.makeGauge(name: "stream_diffvsr_jobs", labels: [("state", state.rawValue)], help: "Jobs by state.")
        }
        self.jobs = jobs
    }

    public func recordFrame(seconds: Double) {
        frames.increment()
        frameSeconds.record(seconds)
        if seconds > 0 { framesPerSecond.set(1 / seconds) }
    }

    public enum TaskOutcome: Sendable { case completed, failed, released, leaseLost }

    public func recordTask(_ outcome: TaskOutcome) {
        switch outcome {
        case .completed: completedTasks.increment()
        case .failed: failedTasks.increment()
        case .released: releasedTasks.increment()
        case .leaseLost: lostTasks.increment()
        }
    }

    public func recordJobFinished(seconds: Double) {
        jobSeconds.record(seconds)
    }

    public func update(_ depth: QueueDepth) {
        queuedTasks.set(Double(depth.queuedTasks))
        runningTasks.set(Double(depth.runningTasks))
        for (state, gauge) in jobs { gauge.set(Double(depth.jobs[state] ?? 0)) }
    }

    /// The text exposition format.
    public func exposition() -> String {
        registry.emitToString()
    }
}
