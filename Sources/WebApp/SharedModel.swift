import Foundation
import Media
import VideoJobs

/// The loaded model as the server sees it: a source of per-sequence upscalers for a number of steps.
/// The server never knows what is behind it, so tests run it with a cheap stand-in.
public protocol UpscalerProvider: AnyObject {
    /// Shown on the page and in /api/info.
    var modelName: String { get }
    func factory(inferenceSteps: Int) throws -> UpscalerFactory
    /// Upscalers for a chunk of a video that starts at frame `firstFrameIndex` (queue workers): stateless
    /// parts such as seeded noise follow the frame's index in the whole video.
    func factory(inferenceSteps: Int, firstFrameIndex: Int) throws -> UpscalerFactory
}

extension UpscalerProvider {
    public func factory(inferenceSteps: Int, firstFrameIndex: Int) throws -> UpscalerFactory {
        try factory(inferenceSteps: inferenceSteps)
    }
}

/// One model in memory, shared by the job worker and the streaming sockets. Only one frame is computed
/// at a time: the model already uses every core, so running two frames side by side would only make
/// both slower; frames of a running job and of live streams take turns instead.
final class SharedModel: @unchecked Sendable {
    let provider: UpscalerProvider
    private let computeLock = NSLock()

    init(provider: UpscalerProvider) {
        self.provider = provider
    }

    func makeUpscaler(inferenceSteps: Int, sequence: String) throws -> FrameUpscaling {
        try computeLock.withLock { try provider.factory(inferenceSteps: inferenceSteps).makeUpscaler(sequence: sequence) }
    }

    /// Runs one frame through an upscaler made by `makeUpscaler`, waiting for its turn.
    func upscale(_ frame: RGBImage, with upscaler: FrameUpscaling) throws -> RGBImage {
        try computeLock.withLock { try upscaler.upscale(frame) }
    }
}
