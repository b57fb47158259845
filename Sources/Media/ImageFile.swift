import Foundation

/// Reading and writing frame files. The format is recognised from the file's signature, not its name.
public enum ImageFile {
    /// File name extensions treated as frames when listing a sequence folder.
    public static let frameExtensions: Set<String> = ["png", "jpg", "jpeg"]

    /// The largest image decoded unless the caller says otherwise: 8192 x 8192 (an 8K frame fits),
    /// 256 MB of RGBA while decoding. A header declaring more is refused before allocating.
    public static let defaultMaxPixels = 8192 * 8192

    public static func read(_ path: String, maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
        let bytes = try contents(of: path)
        if bytes.starts(with: PNGCodec.signature) { return try PNGCodec.decode(bytes, path: path, maxPixels: maxPixels) }
        if JPEGCodec.isJPEG(bytes) { return try JPEGCodec.decode(bytes, path: path, maxPixels: maxPixels) }
        throw MediaError.unsupportedImageFormat(path: path)
    }

    /// Both sides positive and width x height (overflow-checked) at most `maxPixels`.
    static func checkPixelCount(width: Int, height: Int, maxPixels: Int, path: String) throws {
        guard width > 0, height > 0 else { throw MediaError.invalidSize(path: path, width: width, height: height) }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= maxPixels else {
            throw MediaError.imageTooLarge(path: path, width: width, height: height, maxPixels: maxPixels)
        }
    }

    /// The image size from the header alone: cheap enough to validate a whole sequence up front.
    public static func size(of path: String) throws -> (width: Int, height: Int) {
        let bytes = try contents(of: path)
        let size: (width: Int, height: Int)
        if bytes.starts(with: PNGCodec.signature) {
            size = try PNGCodec.size(of: bytes, path: path)
        } else if JPEGCodec.isJPEG(bytes) {
            size = try JPEGCodec.size(of: bytes, path: path)
        } else {
            throw MediaError.unsupportedImageFormat(path: path)
        }
        guard size.width > 0, size.height > 0 else { throw MediaError.invalidSize(path: path, width: size.width, height: size.height) }
        return size
    }

    /// Writes an 8-bit RGB PNG under a temporary name and renames it into place.
    public static func writePNG(_ image: RGBImage, to path: String) throws {
        let bytes: [UInt8]
        do {
            bytes = try PNGCodec.encode(image)
        } catch MediaError.unwritable(_, let reason) {
            throw MediaError.unwritable(path: path, reason: reason)
        }
        try AtomicFileWriter.write(bytes, to: path)
    }

    static func contents(of path: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw MediaError.fileNotFound(path: path) }
        guard !isDirectory.boolValue else { throw MediaError.unreadable(path: path, reason: "is a folder, expected an image file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MediaError.unreadable(path: path, reason: FileManager.default.isReadableFile(atPath: path) ? "read failed" : "permission denied")
        }
        return [UInt8](data)
    }
}

extension RGBImage {
    /// Reads a PNG or JPEG file as 8-bit RGB.
    public init(contentsOf path: String) throws {
        self = try ImageFile.read(path)
    }

    /// Writes the image as an 8-bit RGB PNG, atomically.
    public func writePNG(to path: String) throws {
        try ImageFile.writePNG(self, to: path)
    }
}
