import Foundation

/// Pillow's `Image.resize(size, Image.LANCZOS)` for 8-bit RGB, bit for bit.
///
/// The reference pipeline (diffusers `VaeImageProcessor`) shrinks frames whose sides are not multiples
/// of the VAE scale factor with exactly this filter, so the numbers have to match Pillow's Resample.c:
/// a separable Lanczos-3 kernel widened by the downscale factor, double-precision weights normalised to
/// sum 1, then converted to 22-bit fixed point; each pass accumulates integers with a half-unit bias and
/// clips to 0...255; the horizontal pass runs first (on only the rows the vertical pass will use) and an
/// axis whose size does not change is skipped.
public enum LanczosResize {
    static let precisionBits = 32 - 8 - 2
    static let support = 3.0

    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        precondition(width > 0 && height > 0, "LanczosResize needs a positive output size, got \(width)x\(height)")
        if width == image.width && height == image.height { return image }
        let vertical = Coefficients(inputSize: image.height, outputSize: height)
        var source = Plane(width: image.width, height: image.height, pixels: image.pixels)

        if width != image.width {
            let firstRow = vertical.bounds[0].start
            let lastRow = vertical.bounds[height - 1].start + vertical.bounds[height - 1].count
            source = resampleRows(source, rows: firstRow..<lastRow, coefficients: Coefficients(inputSize: image.width, outputSize: width))
            vertical.shift(by: -firstRow)
        }
        if height != image.height {
            source = resampleColumns(source, coefficients: vertical)
        }
        return RGBImage(width: source.width, height: source.height, pixels: source.pixels)
    }

    struct Plane {
        var width: Int
        var height: Int
        var pixels: [UInt8]
    }

    /// Per output position: the first input index, how many inputs contribute, and their fixed-point weights.
    final class Coefficients {
        let taps: Int
        var bounds: [(start: Int, count: Int)]
        var weights: [Int32]

        init(inputSize: Int, outputSize: Int) {
            let scale = Double(inputSize) / Double(outputSize)
            let filterScale = max(scale, 1.0)
            let support = LanczosResize.support * filterScale
            taps = Int(support.rounded(.up)) * 2 + 1
            bounds = []
            bounds.reserveCapacity(outputSize)
            weights = [Int32](repeating: 0, count: outputSize * taps)
            var kernel = [Double](repeating: 0, count: taps)
            for output in 0..<outputSize {
                let center = (Double(output) + 0.5) * scale
                // C's (int) cast truncates toward zero; negative starts are clamped right after.
                let start = max(Int(center - support + 0.5), 0)
                let end = min(Int(center + support + 0.5), inputSize)
                let count = end - start
                var total = 0.0
                for tap in 0..<count {
                    let w = LanczosResize.lanczos((Double(tap + start) - center + 0.5) / filterScale)
                    kernel[tap] = w
                    total += w
                }
                for tap in 0..<count {
                    let normalised = total != 0 ? kernel[tap] / total : kernel[tap]
                    weights[output * taps + tap] = LanczosResize.fixedPoint(normalised)
                }
                bounds.append((start, count))
            }
        }

        func shift(by offset: Int) {
            for index in bounds.indices { bounds[index].start += offset }
        }
    }

    static func lanczos(_ x: Double) -> Double {
        guard -3.0 <= x && x < 3.0 else { return 0 }
        return sinc(x) * sinc(x / 3)
    }

    static func sinc(_ x: Double) -> Double {
        if x == 0 { return 1 }
        let scaled = x * Double.pi
        return sin(scaled) / scaled
    }

    static func fixedPoint(_ weight: Double) -> Int32 {
        let scaled = weight * Double(1 << precisionBits)
        return Int32(weight < 0 ? scaled - 0.5 : scaled + 0.5)
    }

    static func clip8(_ accumulator: Int32) -> UInt8 {
        UInt8(clamping: accumulator >> Int32(precisionBits))
    }

    static func resampleRows(_ input: Plane, rows: Range<Int>, coefficients: Coefficients) -> Plane {
        let outputWidth = coefficients.bounds.count
        var output = [UInt8](repeating: 0, count: outputWidth * rows.count * 3)
        let half = Int32(1 << (precisionBits - 1))
        for (outRow, inRow) in rows.enumerated() {
            let rowBase = inRow * input.width * 3
            for x in 0..<outputWidth {
                let (start, count) = coefficients.bounds[x]
                var sums = (half, half, half)
                for tap in 0..<count {
                    let weight = coefficients.weights[x * coefficients.taps + tap]
                    let index = rowBase + (start + tap) * 3
                    sums.0 &+= Int32(input.pixels[index]) &* weight
                    sums.1 &+= Int32(input.pixels[index + 1]) &* weight
                    sums.2 &+= Int32(input.pixels[index + 2]) &* weight
                }
                let out = (outRow * outputWidth + x) * 3
                output[out] = clip8(sums.0)
                output[out + 1] = clip8(sums.1)
                output[out + 2] = clip8(sums.2)
            }
        }
        return Plane(width: outputWidth, height: rows.count, pixels: output)
    }

    static func resampleColumns(_ input: Plane, coefficients: Coefficients) -> Plane {
        let outputHeight = coefficients.bounds.count
        let rowLength = input.width * 3
        var output = [UInt8](repeating: 0, count: rowLength * outputHeight)
        let half = Int32(1 << (precisionBits - 1))
        for y in 0..<outputHeight {
            let (start, count) = coefficients.bounds[y]
            for sample in 0..<rowLength {
                var sum = half
                for tap in 0..<count {
                    sum &+= Int32(input.pixels[(start + tap) * rowLength + sample]) &* coefficients.weights[y * coefficients.taps + tap]
                }
                output[y * rowLength + sample] = clip8(sum)
            }
        }
        return Plane(width: input.width, height: outputHeight, pixels: output)
    }
}
