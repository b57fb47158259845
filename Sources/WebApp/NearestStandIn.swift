import Media
import VideoJobs

/// Nearest-neighbour x4 in place of the model, for exercising the server (browser test, demos) without
/// weights; selected by `serve --nearest-upscaler-for-testing`, never by default.
public final class NearestStandInProvider: UpscalerProvider {
    public let modelName = "nearest-neighbour x4 stand-in (no model loaded)"

    public init() {}

    public func factory(inferenceSteps: Int) throws -> UpscalerFactory { Factory() }

    struct Factory: UpscalerFactory {
        func makeUpscaler(sequence: String) throws -> FrameUpscaling { Upscaler() }
    }

    final class Upscaler: FrameUpscaling {
        func upscale(_ frame: RGBImage) throws -> RGBImage {
            let width = frame.width * 4
            var pixels = [UInt8](repeating: 0, count: width * frame.height * 4 * 3)
            frame.pixels.withUnsafeBufferPointer { source in
                pixels.withUnsafeMutableBufferPointer { target in
                    for y in 0..<(frame.height * 4) {
                        let sourceRow = (y / 4) * frame.width * 3
                        let targetRow = y * width * 3
                        for x in 0..<width {
                            let from = sourceRow + (x / 4) * 3
                            let to = targetRow + x * 3
                            target[to] = source[from]
                            target[to + 1] = source[from + 1]
                            target[to + 2] = source[from + 2]
                        }
                    }
                }
            }
            return RGBImage(width: width, height: frame.height * 4, pixels: pixels)
        }
    }
}
