import Foundation
import Media
import NIOCore

/// The two frame encodings of the streaming API. A message is either a PNG file, or raw RGB:
/// the 4 ASCII bytes `RGB8`, width and height as little-endian UInt32, then width*height*3 bytes.
/// Each HR frame goes back in the encoding its LR frame came in.
public enum StreamFrameFormat: String, Codable, Sendable {
    case png
    case rgb8
}

public enum StreamFrameCodec {
    static let rawMagic: [UInt8] = Array("RGB8".utf8)
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47]

    /// `maxSide` bounds both sides before anything is allocated: the raw size is computed with
    /// overflow-checked arithmetic only after the sides pass, and a PNG's header is read (and checked)
    /// before its pixels are decoded.
    public static func decode(_ bytes: [UInt8], maxSide: Int) throws -> (frame: RGBImage, format: StreamFrameFormat) {
        if bytes.starts(with: pngSignature) {
            do {
                let size = try PNGCodec.size(of: bytes, path: "stream frame")
                try checkSides(width: size.width, height: size.height, maxSide: maxSide)
                return (try PNGCodec.decode(bytes, path: "stream frame", maxPixels: saturatingSquare(maxSide)), .png)
            } catch let error as WebAppError {
                throw error
            } catch {
                throw WebAppError.streamFrame("\(error)")
            }
        }
        guard bytes.starts(with: rawMagic) else {
            throw WebAppError.streamFrame("expected a PNG file or an RGB8 header (\"RGB8\", UInt32 LE width, UInt32 LE height), found \(bytes.count) bytes starting \(bytes.prefix(4).map { String(format: "%02x", $0) }.joined())")
        }
        guard bytes.count >= 12 else { throw WebAppError.streamFrame("RGB8 header is 12 bytes, found \(bytes.count)") }
        let width = Int(littleEndian32(bytes, at: 4))
        let height = Int(littleEndian32(bytes, at: 8))
        try checkSides(width: width, height: height, maxSide: maxSide)
        let (pixels, pixelOverflow) = width.multipliedReportingOverflow(by: height)
        let (pixelBytes, byteOverflow) = pixels.multipliedReportingOverflow(by: 3)
        let (expected, totalOverflow) = pixelBytes.addingReportingOverflow(12)
        guard !pixelOverflow, !byteOverflow, !totalOverflow else {
            throw WebAppError.streamFrame("RGB8 \(width)x\(height) is too large to address")
        }
        guard bytes.count == expected else {
            throw WebAppError.streamFrame("RGB8 \(width)x\(height) needs \(expected) bytes with its header, found \(bytes.count)")
        }
        return (RGBImage(width: width, height: height, pixels: Array(bytes[12...])), .rgb8)
    }

    static func saturatingSquare(_ side: Int) -> Int {
        let (square, overflow) = side.multipliedReportingOverflow(by: side)
        return overflow ? Int.max : square
    }

    private static func checkSides(width: Int, height: Int, maxSide: Int) throws {
        guard width > 0, height > 0, width <= maxSide, height <= maxSide else {
            throw WebAppError.streamFrame("frame declares \(width)x\(height); each side must be 1 to \(maxSide) pixels (STREAM_DIFFVSR_MAX_INPUT_SIDE)")
        }
    }

    public static func encode(_ frame: RGBImage, as format: StreamFrameFormat) throws -> [UInt8] {
        switch format {
        case .png:
            return try PNGCodec.encode(frame)
        case .rgb8:
            var bytes = rawMagic
            bytes.reserveCapacity(12 + frame.pixels.count)
            for value in [UInt32(frame.width), UInt32(frame.height)] {
                withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
            }
            bytes += frame.pixels
            return bytes
        }
    }

    private static func littleEndian32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }
}

/// The JSON text message sent right before each HR frame.
public struct StreamFrameReply: Codable, Sendable, Equatable {
    /// 1-based index of the frame in this connection.
    public let frame: Int
    public let width: Int
    public let height: Int
    public let format: StreamFrameFormat
    /// From the whole LR message received to the HR frame ready to send (decode, wait, upscale, encode).
    public let latencyMs: Double
    /// Time spent waiting for the model while a queued job's frame was being computed.
    public let waitMs: Double
    public let upscaleMs: Double
}
