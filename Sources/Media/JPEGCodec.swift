import CLibJPEG
import Foundation

/// JPEG decoding through libjpeg(-turbo), colour-converted by the library to 8-bit RGB.
public enum JPEGCodec {
    static func isJPEG(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF
    }

    /// `maxPixels` is checked against the header (inside the C decoder) before any pixel memory exists.
    public static func decode(_ bytes: [UInt8], path: String, maxPixels: Int = ImageFile.defaultMaxPixels) throws -> RGBImage {
        let (pixels, width, height) = try run(bytes, path: path, headerOnly: false, maxPixels: maxPixels)
        guard let pixels else { throw MediaError.corruptImage(path: path, reason: "no pixels decoded") }
        defer { free(pixels) }
        try ImageFile.checkPixelCount(width: width, height: height, maxPixels: maxPixels, path: path)
        return RGBImage(width: width, height: height, pixels: Array(UnsafeBufferPointer(start: pixels, count: width * height * 3)))
    }

    public static func size(of bytes: [UInt8], path: String) throws -> (width: Int, height: Int) {
        let (_, width, height) = try run(bytes, path: path, headerOnly: true, maxPixels: Int.max)
        return (width, height)
    }

    private static func run(_ bytes: [UInt8], path: String, headerOnly: Bool, maxPixels: Int) throws -> (UnsafeMutablePointer<UInt8>?, Int, Int) {
        var width: Int32 = 0, height: Int32 = 0, failed: Int32 = 0
        var message = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX))
        let pixels = bytes.withUnsafeBufferPointer { buffer in
            media_jpeg_decode_rgb(buffer.baseAddress, UInt(buffer.count), headerOnly ? 1 : 0, UInt64(max(maxPixels, 0)),
                                  &width, &height, &failed, &message)
        }
        if failed == MEDIA_JPEG_TOO_LARGE {
            throw MediaError.imageTooLarge(path: path, width: Int(width), height: Int(height), maxPixels: maxPixels)
        }
        if failed != 0 {
            let reason = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw MediaError.corruptImage(path: path, reason: reason.isEmpty ? "libjpeg error" : reason)
        }
        return (pixels, Int(width), Int(height))
    }
}
