import Foundation
import Media
import XCTest
@testable import WebApp

/// The frame codec reads bytes straight off the WebSocket: every message ends in a frame within the
/// size limit or a `WebAppError`, never a trap or a large allocation.
final class StreamFrameCodecTests: XCTestCase {
    static func raw(width: UInt32, height: UInt32, payload: Int = 0) -> [UInt8] {
        var bytes = Array("RGB8".utf8)
        withUnsafeBytes(of: width.littleEndian) { bytes += $0 }
        withUnsafeBytes(of: height.littleEndian) { bytes += $0 }
        return bytes + [UInt8](repeating: 0, count: payload)
    }

    func assertRefused(_ bytes: [UInt8], maxSide: Int = 1920, mentioning text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try StreamFrameCodec.decode(bytes, maxSide: maxSide), file: file, line: line) { error in
            guard case WebAppError.streamFrame(let reason) = error else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertTrue(reason.contains(text), "\"\(reason)\" does not mention \"\(text)\"", file: file, line: line)
        }
    }

    /// Issue 15 item 1: twelve bytes, "RGB8" + 0xFFFFFFFF + 0xFFFFFFFF: 12 + w*h*3 overflowed and trapped.
    func testTwelveBytesDeclaringTheLargestFrameAreRefused() {
        assertRefused(Self.raw(width: .max, height: .max), mentioning: "4294967295x4294967295")
        assertRefused(Self.raw(width: .max, height: .max), maxSide: .max, mentioning: "too large to address")
        assertRefused(Self.raw(width: 1921, height: 1), mentioning: "1 to 1920")
        assertRefused(Self.raw(width: 0, height: 5), mentioning: "0x5")
        assertRefused(Self.raw(width: 2, height: 2, payload: 11), mentioning: "needs 24 bytes with its header, found 23")
        XCTAssertEqual(try StreamFrameCodec.decode(Self.raw(width: 2, height: 2, payload: 12), maxSide: 1920).frame.width, 2)
    }

    /// A 69-byte PNG whose header declares 1,000,000 x 1,000,000 RGBA pixels.
    static func hugePNG() -> [UInt8] {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func chunk(_ type: String, _ data: [UInt8]) {
            let body = Array(type.utf8) + data
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in body {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            png += withUnsafeBytes(of: UInt32(data.count).bigEndian) { Array($0) } + body + withUnsafeBytes(of: (~crc).bigEndian) { Array($0) }
        }
        let side = withUnsafeBytes(of: UInt32(1_000_000).bigEndian) { Array($0) }
        chunk("IHDR", side + side + [8, 6, 0, 0, 0])
        chunk("IDAT", [0x78, 0x9C, 0x63, 0x60, 0x60, 0x60, 0x00, 0x00, 0x00, 0x04, 0x00, 0x01])
        chunk("IEND", [])
        return png
    }

    /// Issue 15 item 2: a 69-byte PNG declaring 1,000,000 x 1,000,000 made the server allocate 4 TB.
    func testAHugePNGFrameIsRefusedFromItsHeader() {
        let png = Self.hugePNG()
        XCTAssertEqual(png.count, 69)
        assertRefused(png, mentioning: "1000000x1000000")
    }

    /// 10,000 random and mutated messages of both encodings under a small side limit.
    func testRandomAndMutatedMessagesNeverCrash() throws {
        let frame = RGBImage(width: 12, height: 8, pixels: (0..<(12 * 8 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        let seeds = [try StreamFrameCodec.encode(frame, as: .png), try StreamFrameCodec.encode(frame, as: .rgb8)]
        var rng = SystemRandomNumberGenerator.Seeded(state: 0x57EA)
        let before = peakResidentBytes()
        var decoded = 0
        for iteration in 0..<10_000 {
            var bytes: [UInt8]
            if iteration % 5 == 0 {
                bytes = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if Bool.random(using: &rng) { bytes = Array("RGB8".utf8) + bytes }
            } else {
                bytes = seeds[iteration % 2]
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    guard !bytes.isEmpty else { break }
                    let at = Int.random(in: 0..<min(bytes.count, 40), using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                    case 1: bytes[at] = [0x00, 0xFF, 0x7F, 0x80][Int.random(in: 0..<4, using: &rng)]
                    default: bytes.removeSubrange(at...)
                    }
                }
            }
            do {
                let (image, _) = try StreamFrameCodec.decode(bytes, maxSide: 64)
                XCTAssertTrue(image.width <= 64 && image.height <= 64 && image.pixels.count == image.width * image.height * 3)
                decoded += 1
            } catch is WebAppError {
                continue
            }
        }
        XCTAssertLessThan(decoded, 10_000)
        XCTAssertLessThan(peakResidentBytes() - before, 512 << 20, "peak resident memory grew too much during the run")
    }
}

extension SystemRandomNumberGenerator {
    /// SplitMix64: the same messages on every run.
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
