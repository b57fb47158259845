// VideoJobs: turns an input path (folder of sequence folders, one sequence folder, or a video file)
// into upscaled outputs, frame by frame, through whatever upscaler the caller provides. Shared by the
// CLI and the web app; knows nothing about models.
import Media

/// Upscales the frames of one sequence, in order; may keep state between frames (the previous output).
public protocol FrameUpscaling: AnyObject {
    func upscale(_ frame: RGBImage) throws -> RGBImage
}

/// Makes a fresh upscaler for each sequence, so temporal state never leaks from one clip into the next.
public protocol UpscalerFactory {
    func makeUpscaler(sequence: String) throws -> FrameUpscaling
}
