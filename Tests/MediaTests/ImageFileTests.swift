import Foundation
import XCTest
@testable import Media

/// Decoding is compared with Pillow's `convert("RGB")` of the same files (tools/fixtures/gen_media.py).
final class ImageFileTests: XCTestCase {
    struct Manifest: Decodable {
        struct Case: Decodable {
            let file: String
            let expected: String
            let width: Int
            let height: Int
        }
        let decode: [Case]
        let resize: [Case]
        let corrupt: [String]
    }

    static func fixturePath(_ name: String) -> String {
        Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil)!.path
    }

    static func manifest() throws -> Manifest {
        try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: fixturePath("manifest.json"))))
    }

    static func expectedPixels(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixturePath(name))))
    }

    func testEveryPNGVariantAndJPEGDecodesLikePillow() throws {
        let cases = try Self.manifest().decode
        XCTAssertGreaterThanOrEqual(cases.count, 9)
        for testCase in cases {
            let image = try RGBImage(contentsOf: Self.fixturePath(testCase.file))
            XCTAssertEqual(image.width, testCase.width, testCase.file)
            XCTAssertEqual(image.height, testCase.height, testCase.file)
            let expected = try Self.expectedPixels(testCase.expected)
            let mismatches = zip(image.pixels, expected).filter { $0 != $1 }.count
            XCTAssertEqual(mismatches, 0, "\(testCase.file): \(mismatches) samples differ from Pillow")
            let size = try ImageFile.size(of: Self.fixturePath(testCase.file))
            XCTAssertEqual(size.width, testCase.width, testCase.file)
            XCTAssertEqual(size.height, testCase.height, testCase.file)
        }
    }

    func testCorruptFilesThrowNamingTheFile() throws {
        for name in try Self.manifest().corrupt {
            let path = Self.fixturePath(name)
            XCTAssertThrowsError(try RGBImage(contentsOf: path), name) { error in
                guard let mediaError = error as? MediaError else { return XCTFail("\(name): \(error)") }
                switch mediaError {
                case .corruptImage, .unsupportedImageFormat: break
                default: XCTFail("\(name): unexpected \(mediaError)")
                }
                XCTAssertTrue(mediaError.description.hasPrefix(path), mediaError.description)
            }
        }
        XCTAssertThrowsError(try RGBImage(contentsOf: "/nonexistent/frame.png")) { error in
            XCTAssertEqual(error as? MediaError, .fileNotFound(path: "/nonexistent/frame.png"))
        }
    }

    func testPNGWriteRoundTripsAndIsRGB8() throws {
        let folder = try temporaryFolder()
        let pixels = (0..<(7 * 5 * 3)).map { UInt8(($0 * 37) % 256) }
        let image = RGBImage(width: 7, height: 5, pixels: pixels)
        let path = folder + "/out.png"
        try image.writePNG(to: path)
        XCTAssertEqual(try RGBImage(contentsOf: path), image)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(bytes[24], 8, "bit depth")
        XCTAssertEqual(bytes[25], 2, "colour type RGB")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["out.png"], "no temporary file left")
    }

    func testWritingIntoAMissingFolderFailsWithoutLeavingFiles() throws {
        let folder = try temporaryFolder()
        let image = RGBImage(width: 1, height: 1, pixels: [1, 2, 3])
        XCTAssertThrowsError(try image.writePNG(to: folder + "/missing/out.png")) { error in
            guard case .unwritable(let path, let reason)? = error as? MediaError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, folder + "/missing/out.png")
            XCTAssertTrue(reason.contains("does not exist"), reason)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [])
    }

    func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "media-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}
