import CLibPNG
import Foundation

/// PNG through libpng's simplified API, which contains libpng's longjmp error handling internally.
///
/// Any PNG becomes 8-bit RGB the way PIL's `convert("RGB")` does it: palette and grey are expanded,
/// alpha is dropped (not composited), 16-bit samples keep their high byte.
public enum PNGCodec {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// `maxPixels` is checked against the header before the pixel buffer is allocated: a 69-byte file
    /// may declare 1,000,000 x 1,000,000 pixels.
    public static func decode(_ bytes: [UInt8], path: String, maxPixels: Int = ImageFile.defaultMaxPixels) throws -> RGBImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw MediaError.corruptImage(path: path, reason: message(of: image)) }
        let width = Int(image.width), height = Int(image.height)
        try ImageFile.checkPixelCount(width: width, height: height, maxPixels: maxPixels, path: path)

        if image.format & UInt32(PNG_FORMAT_FLAG_LINEAR) != 0 {
            // 16-bit file: read the samples as stored (a file without gAMA is linear to libpng, so no
            // gamma conversion happens) and keep the high byte, like PIL.
            image.format = UInt32(PNG_FORMAT_FLAG_LINEAR | PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
            var wide = [UInt16](repeating: 0, count: width * height * 4)
            let finished = wide.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            guard finished != 0 else { throw MediaError.corruptImage(path: path, reason: message(of: image)) }
            return RGBImage(width: width, height: height, pixels: dropAlpha(wide, pixelCount: width * height) { UInt8($0 >> 8) })
        }
        image.format = UInt32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
        var rgba = [UInt8](repeating: 0, count: width * height * 4)
        let finished = rgba.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard finished != 0 else { throw MediaError.corruptImage(path: path, reason: message(of: image)) }
        return RGBImage(width: width, height: height, pixels: dropAlpha(rgba, pixelCount: width * height) { $0 })
    }

    /// Width and height from the header, without decoding the pixels.
    public static func size(of bytes: [UInt8], path: String) throws -> (width: Int, height: Int) {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        let began = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard began != 0 else { throw MediaError.corruptImage(path: path, reason: message(of: image)) }
        return (Int(image.width), Int(image.height))
    }

    /// An 8-bit RGB PNG file's bytes.
    public static func encode(_ rgb: RGBImage) throws -> [UInt8] {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(rgb.width)
        image.height = UInt32(rgb.height)
        image.format = UInt32(PNG_FORMAT_FLAG_COLOR)
        var size = 0
        let sized = rgb.pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }
        guard sized != 0 else { throw MediaError.unwritable(path: "<png>", reason: message(of: image)) }
        var output = [UInt8](repeating: 0, count: size)
        let written = rgb.pixels.withUnsafeBytes { pixels in
            output.withUnsafeMutableBytes { png_image_write_to_memory(&image, $0.baseAddress, &size, 0, pixels.baseAddress, 0, nil) }
        }
        png_image_free(&image)
        guard written != 0 else { throw MediaError.unwritable(path: "<png>", reason: message(of: image)) }
        return Array(output.prefix(size))
    }

    private static func dropAlpha<Sample>(_ rgba: [Sample], pixelCount: Int, narrow: (Sample) -> UInt8) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: pixelCount * 3)
        for pixel in 0..<pixelCount {
            rgb[pixel * 3] = narrow(rgba[pixel * 4])
            rgb[pixel * 3 + 1] = narrow(rgba[pixel * 4 + 1])
            rgb[pixel * 3 + 2] = narrow(rgba[pixel * 4 + 2])
        }
        return rgb
    }

    private static func message(of image: png_image) -> String {
        withUnsafeBytes(of: image.message) { raw in
            let text = String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            return text.isEmpty ? "libpng error" : text
        }
    }
}
