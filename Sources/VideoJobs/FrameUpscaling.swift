// VideoJobs: turns an input path (folder of sequence folders, one sequence folder, or a video file)
// into upscaled outputs, frame by frame, through whatever upscaler the caller provides; saves
// checkpoints so an interrupted job continues where it stopped. Shared by the CLI and the web app;
// knows nothing about models.
import Media

/// Upscales the frames of one sequence, in order; may keep state between frames (the previous output).
public protocol FrameUpscaling: AnyObject {
    func upscale(_ frame: RGBImage) throws -> RGBImage
}

/// An upscaler whose state between frames can be saved, so that a job can be resumed after an
/// interruption and give the same frames as an uninterrupted run.
public protocol ResumableUpscaling: FrameUpscaling {
    /// Opaque bytes that `UpscalerFactory.resumeUpscaler` turns back into an equivalent upscaler.
    func savedState() throws -> [UInt8]
}

/// Makes a fresh upscaler for each sequence, so temporal state never leaks from one clip into the next.
public protocol UpscalerFactory {
    func makeUpscaler(sequence: String) throws -> FrameUpscaling
    /// An upscaler continuing from `savedState()` bytes. Throws a one-line error when the state was
    /// saved by another model or with other options.
    func resumeUpscaler(sequence: String, state: [UInt8]) throws -> FrameUpscaling
}

extension UpscalerFactory {
    public func resumeUpscaler(sequence: String, state: [UInt8]) throws -> FrameUpscaling {
        throw VideoJobError.resumeUnsupported(sequence: sequence)
    }
}
