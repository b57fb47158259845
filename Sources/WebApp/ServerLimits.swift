import Foundation

/// What one server holds at most, so that no client (and no web page a user happens to visit) can fill
/// the memory, the disk or the queue: each cap refuses the request with a 4xx/5xx and one line instead.
public struct ServerLimits: Sendable, Equatable {
    /// Uploads received or waiting for a job (each is a file of up to `maxUploadBytes` on disk).
    public var maxPendingUploads = 8
    /// Jobs waiting behind the running one.
    public var maxQueuedJobs = 16
    /// Open WebSocket streams (each holds its own temporal state: two HR frames and the model's tensors).
    public var maxStreams = 4
    /// Frames in one uploaded video and in one stream: an hour at 30 fps.
    public var maxFramesPerJob = 108_000
    /// An upload no job claimed is removed after this long.
    public var uploadLifetime: TimeInterval = 3600
    /// Finished, failed and cancelled jobs (their records and result videos) are removed after this long.
    public var resultRetention: TimeInterval = 24 * 3600
    /// Uploads are refused (507) while the scratch folder's file system has less free space than this.
    public var minFreeDiskBytes: Int64 = 1 << 30
    /// How often expired uploads and old results are looked for.
    public var sweepInterval: TimeInterval = 60

    public init() {}
}
