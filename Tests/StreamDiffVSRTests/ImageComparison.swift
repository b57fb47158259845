// How the pipeline tests compare 8-bit frames with a reference run.

import Foundation
import Media

/// Peak signal-to-noise ratio of two frames of the same size, in dB (infinite when identical).
func psnr(_ a: RGBImage, _ b: RGBImage) -> Double {
    precondition(a.width == b.width && a.height == b.height, "psnr of \(a.width)x\(a.height) and \(b.width)x\(b.height) frames")
    let squared = zip(a.pixels, b.pixels).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) }
    let mse = squared / Double(a.pixels.count)
    return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
}
