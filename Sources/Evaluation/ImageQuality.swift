// Evaluation: the quality metrics researchers report for video super-resolution, computed on a run's
// outputs against ground truth — PSNR and SSIM exactly as BasicSR computes them (on the BT.601 Y channel
// and on RGB), and the warping error of consecutive frames as the original repository defines it.

import Foundation
import Media

/// PSNR and SSIM as BasicSR's `calculate_psnr` / `calculate_ssim` (basicsr/metrics/psnr_ssim.py) on
/// 8-bit images: `crop_border` pixels dropped from every edge, then either the three RGB channels or,
/// with `test_y_channel`, BT.601 luma computed in BasicSR's float32 steps
/// (Y = (65.481 R + 128.553 G + 24.966 B) / 255 + 16 from values / 255), everything else in float64.
public enum ImageQuality {
    public enum Channels: String, Sendable, CaseIterable {
        case y, rgb
    }

    /// 10 log10(255^2 / MSE); infinity for identical images, as BasicSR returns.
    public static func psnr(_ image: RGBImage, _ reference: RGBImage, cropBorder: Int, channels: Channels) throws -> Double {
        let (first, second) = try planes(image, reference, cropBorder: cropBorder, channels: channels, minimumSide: 1)
        var sum = 0.0, count = 0
        for (a, b) in zip(first, second) {
            for index in a.values.indices {
                let difference = a.values[index] - b.values[index]
                sum += difference * difference
            }
            count += a.values.count
        }
        let mse = sum / Double(count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }

    /// Mean SSIM over the channels: 11x11 Gaussian window (sigma 1.5, OpenCV's kernel), valid region only.
    public static func ssim(_ image: RGBImage, _ reference: RGBImage, cropBorder: Int, channels: Channels) throws -> Double {
        let (first, second) = try planes(image, reference, cropBorder: cropBorder, channels: channels, minimumSide: 11)
        let values = zip(first, second).map { ssim($0, $1) }
        return values.reduce(0, +) / Double(values.count)
    }

    struct Plane {
        let width: Int
        let height: Int
        var values: [Double]
    }

    static func planes(_ image: RGBImage, _ reference: RGBImage, cropBorder: Int, channels: Channels,
                       minimumSide: Int) throws -> ([Plane], [Plane]) {
        guard image.width == reference.width, image.height == reference.height else {
            throw EvaluationError.sizeMismatch(output: "\(image.width)x\(image.height)", reference: "\(reference.width)x\(reference.height)")
        }
        let width = image.width - 2 * cropBorder, height = image.height - 2 * cropBorder
        guard cropBorder >= 0, width >= minimumSide, height >= minimumSide else {
            throw EvaluationError.tooSmall(size: "\(image.width)x\(image.height)", cropBorder: cropBorder, minimum: minimumSide)
        }
        return (planes(image, cropBorder: cropBorder, channels: channels), planes(reference, cropBorder: cropBorder, channels: channels))
    }

    static func planes(_ image: RGBImage, cropBorder: Int, channels: Channels) -> [Plane] {
        let width = image.width - 2 * cropBorder, height = image.height - 2 * cropBorder
        var result = (0..<(channels == .y ? 1 : 3)).map { _ in Plane(width: width, height: height, values: [Double](repeating: 0, count: width * height)) }
        for y in 0..<height {
            for x in 0..<width {
                let source = ((y + cropBorder) * image.width + x + cropBorder) * 3
                let target = y * width + x
                if channels == .y {
                    result[0].values[target] = luma(red: image.pixels[source], green: image.pixels[source + 1], blue: image.pixels[source + 2])
                } else {
                    for channel in 0..<3 { result[channel].values[target] = Double(image.pixels[source + channel]) }
                }
            }
        }
        return result
    }

    /// BasicSR's `to_y_channel`: float32 x / 255, a float64 dot product with the BT.601 row (in BGR
    /// order, as BasicSR reads images with OpenCV) plus 16, / 255 stored as float32, then * 255 in float32.
    static func luma(red: UInt8, green: UInt8, blue: UInt8) -> Double {
        let (r, g, b) = (Float(red) / 255, Float(green) / 255, Float(blue) / 255)
        var dot: Double = Double(b) * 24.966
        dot += Double(g) * 128.553
        dot += Double(r) * 65.481
        let scaled: Float = Float((dot + 16.0) / 255)
        return Double(scaled * 255)
    }

    /// `cv2.getGaussianKernel(11, 1.5)`.
    static let gaussian: [Double] = {
        let weights = (0..<11).map { exp(-0.5 / (1.5 * 1.5) * Double(($0 - 5) * ($0 - 5))) }
        let sum = weights.reduce(0, +)
        return weights.map { $0 / sum }
    }()

    /// BasicSR's `_ssim`: filter2D with the outer-product window, cropped to the valid region [5:-5, 5:-5].
    static func ssim(_ first: Plane, _ second: Plane) -> Double {
        let c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255)
        let mu1 = filteredValid(first.values, width: first.width, height: first.height)
        let mu2 = filteredValid(second.values, width: first.width, height: first.height)
        let squares1 = filteredValid(first.values.map { $0 * $0 }, width: first.width, height: first.height)
        let squares2 = filteredValid(second.values.map { $0 * $0 }, width: first.width, height: first.height)
        let products = filteredValid(zip(first.values, second.values).map { $0 * $1 }, width: first.width, height: first.height)
        var total = 0.0
        for index in mu1.indices {
            let (m1, m2) = (mu1[index], mu2[index])
            let sigma1 = squares1[index] - m1 * m1, sigma2 = squares2[index] - m2 * m2, sigma12 = products[index] - m1 * m2
            total += ((2 * m1 * m2 + c1) * (2 * sigma12 + c2)) / ((m1 * m1 + m2 * m2 + c1) * (sigma1 + sigma2 + c2))
        }
        return total / Double(mu1.count)
    }

    /// The 11x11 Gaussian filter over every position whose window lies inside the plane. The window is
    /// separable (an outer product), so rows then columns; the sums differ from OpenCV's by rounding only.
    static func filteredValid(_ values: [Double], width: Int, height: Int) -> [Double] {
        let outWidth = width - 10, outHeight = height - 10
        var rows = [Double](repeating: 0, count: outWidth * height)
        for y in 0..<height {
            for x in 0..<outWidth {
                var sum = 0.0
                for tap in 0..<11 { sum += gaussian[tap] * values[y * width + x + tap] }
                rows[y * outWidth + x] = sum
            }
        }
        var result = [Double](repeating: 0, count: outWidth * outHeight)
        for y in 0..<outHeight {
            for x in 0..<outWidth {
                var sum = 0.0
                for tap in 0..<11 { sum += gaussian[tap] * rows[(y + tap) * outWidth + x] }
                result[y * outWidth + x] = sum
            }
        }
        return result
    }
}
