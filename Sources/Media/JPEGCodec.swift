import CLibJPEG
import Foundation

/// JPEG decoding through libjpeg(-turbo), colour-converted by the library to 8-bit RGB.
public enum JPEGCodec {
    static func isJPEG(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF
    }

    public static func decode(_ bytes: [UInt8], path: String) throws -> RGBImage {
        let (pixels, width, height) = try run(bytes, path: path, headerOnly: false)
        guard let pixels else { throw MediaError.corruptImage(path: path, reason: "no pixels decoded") }
        defer { free(pixels) }
        guard width > 0, height > 0 else { throw MediaError.invalidSize(path: path, width: width, height: height) }
        return RGBImage(width: width, height: height, pixels: Array(UnsafeBufferPointer(start: pixels, count: width * height * 3)))
    }

    public static func size(of bytes: [UInt8], path: String) throws -> (width: Int, height: Int) {
        let (_, width, height) = try run(bytes, path: path, headerOnly: true)
        return (width, height)
    }

    private static func run(_ bytes: [UInt8], path: String, headerOnly: Bool) throws -> (UnsafeMutablePointer<UInt8>?, Int, Int) {
        var width: Int32 = 0, height: Int32 = 0, failed: Int32 = 0
        var message = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX))
        let pixels = bytes.withUnsafeBufferPointer { buffer in
            media_jpeg_decode_rgb(buffer.baseAddress, UInt(buffer.count), headerOnly ? 1 : 0, &width, &height, &failed, &message)
        }
        if failed != 0 {
            let reason = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw MediaError.corruptImage(path: path, reason: reason.isEmpty ? "libjpeg error" : reason)
        }
        return (pixels, Int(width), Int(height))
    }
}
