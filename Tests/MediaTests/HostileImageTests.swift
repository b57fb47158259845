import Foundation
import XCTest
@testable import Media

/// Image headers are hostile input (the web server decodes PNG frames straight off a WebSocket, the
/// CLI reads whatever frame files it is pointed at): a size the caller does not allow is refused from
/// the header, before any pixel memory exists; anything else ends in an error or a decoded image.
final class HostileImageTests: XCTestCase {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

    /// A valid-looking RGBA PNG header declaring `width` x `height`, with a token IDAT: 69 bytes.
    static func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
        PNGCodec.signature
            + chunk("IHDR", bigEndian(width) + bigEndian(height) + [8, 6, 0, 0, 0])
            + chunk("IDAT", [0x78, 0x9C, 0x63, 0x60, 0x60, 0x60, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01])
            + chunk("IEND", [])
    }

    /// The photo fixture with its SOF marker's size replaced.
    static func jpeg(width: UInt16, height: UInt16) throws -> [UInt8] {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ImageFileTests.fixturePath("photo.jpg"))))
        var index = 2
        while index + 9 < bytes.count {
            guard bytes[index] == 0xFF else { break }
            let marker = bytes[index + 1]
            let length = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            if (0xC0...0xC2).contains(marker) {
                bytes[index + 5] = UInt8(height >> 8); bytes[index + 6] = UInt8(height & 0xFF)
                bytes[index + 7] = UInt8(width >> 8); bytes[index + 8] = UInt8(width & 0xFF)
                return bytes
            }
            index += 2 + length
        }
        throw XCTSkip("photo.jpg has no SOF marker where expected")
    }

    func assertTooLarge(_ body: @autoclosure () throws -> Any, width: Int, height: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case let MediaError.imageTooLarge(_, foundWidth, foundHeight, _) = error else {
                return XCTFail("expected imageTooLarge, got \(error)", file: file, line: line)
            }
            XCTAssertEqual([foundWidth, foundHeight], [width, height], file: file, line: line)
        }
    }

    /// Issue 15 item 2: 1,000,000 x 1,000,000 in 69 bytes; the old decoder allocated width*height*4 first.
    func testAHugePNGHeaderIsRefusedBeforeAllocating() throws {
        let bytes = Self.pngHeader(width: 1_000_000, height: 1_000_000)
        XCTAssertEqual(bytes.count, 69)
        assertTooLarge(try PNGCodec.decode(bytes, path: "huge.png"), width: 1_000_000, height: 1_000_000)
        // The CLI's frame reader takes the same path.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("huge-\(UUID().uuidString).png").path
        defer { unlink(path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        assertTooLarge(try ImageFile.read(path), width: 1_000_000, height: 1_000_000)
        XCTAssertTrue("\(MediaError.imageTooLarge(path: "huge.png", width: 1_000_000, height: 1_000_000, maxPixels: ImageFile.defaultMaxPixels))"
            .contains("exceeds the limit of 67108864 pixels"))
    }

    func testAHugeJPEGHeaderIsRefusedBeforeAllocating() throws {
        let bytes = try Self.jpeg(width: 65_000, height: 65_000)
        assertTooLarge(try JPEGCodec.decode(bytes, path: "huge.jpg"), width: 65_000, height: 65_000)
        XCTAssertEqual(try JPEGCodec.size(of: bytes, path: "huge.jpg").width, 65_000)
    }

    func testTheCallerSetsTheLimit() throws {
        let image = RGBImage(width: 16, height: 16, pixels: [UInt8](repeating: 7, count: 16 * 16 * 3))
        let png = try PNGCodec.encode(image)
        XCTAssertEqual(try PNGCodec.decode(png, path: "a.png"), image)
        XCTAssertEqual(try PNGCodec.decode(png, path: "a.png", maxPixels: 256), image)
        assertTooLarge(try PNGCodec.decode(png, path: "a.png", maxPixels: 255), width: 16, height: 16)
        let jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ImageFileTests.fixturePath("photo.jpg"))))
        let size = try JPEGCodec.size(of: jpeg, path: "photo.jpg")
        XCTAssertNoThrow(try JPEGCodec.decode(jpeg, path: "photo.jpg", maxPixels: size.width * size.height))
        assertTooLarge(try JPEGCodec.decode(jpeg, path: "photo.jpg", maxPixels: size.width * size.height - 1), width: size.width, height: size.height)
    }

    /// 10,000 mutants each of a PNG and a JPEG (mostly in their headers), decoded under a small pixel
    /// limit: every one ends in a MediaError or an image within the limit, and memory stays bounded.
    func testMutatedImageHeadersNeverCrash() throws {
        let image = RGBImage(width: 24, height: 20, pixels: (0..<(24 * 20 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 37) })
        let seeds: [(bytes: [UInt8], decode: ([UInt8]) throws -> RGBImage)] = [
            (try PNGCodec.encode(image), { try PNGCodec.decode($0, path: "fuzz.png", maxPixels: 4096) }),
            ([UInt8](try Data(contentsOf: URL(fileURLWithPath: ImageFileTests.fixturePath("photo.jpg")))),
             { try JPEGCodec.decode($0, path: "fuzz.jpg", maxPixels: 1 << 16) }),
        ]
        var rng = SystemRandomNumberGenerator.Seeded(state: 0x1A9E)
        let before = peakResidentBytes()
        for (seed, decode) in seeds {
            var decoded = 0
            for iteration in 0..<10_000 {
                var bytes = seed
                let headerEnd = iteration % 4 == 0 ? bytes.count : 64
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let limit = min(bytes.count, headerEnd)
                    guard limit > 0 else { break }
                    let at = Int.random(in: 0..<limit, using: &rng)
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                    case 1: bytes[at] = [0x00, 0xFF, 0x7F, 0x80][Int.random(in: 0..<4, using: &rng)]
                    case 2: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...8, using: &rng)))
                    default: bytes.removeSubrange(at...)
                    }
                }
                do {
                    let result = try decode(bytes)
                    XCTAssertEqual(result.pixels.count, result.width * result.height * 3)
                    decoded += 1
                } catch is MediaError {
                    continue
                }
            }
            XCTAssertLessThan(decoded, 10_000)
        }
        XCTAssertLessThan(peakResidentBytes() - before, 512 << 20, "peak resident memory grew too much during the run")
    }
}

extension SystemRandomNumberGenerator {
    /// SplitMix64: the same mutants on every run.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

/// The process's peak resident size in bytes (getrusage reports kilobytes on Linux, bytes on macOS).
func peakResidentBytes() -> Int {
    var usage = rusage()
    #if os(Linux)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss) * 1024
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)
    #endif
}
