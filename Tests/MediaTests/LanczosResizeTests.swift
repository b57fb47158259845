import Foundation
import XCTest
@testable import Media

/// Bit-exact against Pillow's `Image.resize(size, Image.LANCZOS)` (tools/fixtures/gen_media.py).
final class LanczosResizeTests: XCTestCase {
    func testMatchesPillowBitExactly() throws {
        let cases = try ImageFileTests.manifest().resize
        XCTAssertGreaterThanOrEqual(cases.count, 5)
        for testCase in cases {
            let source = try RGBImage(contentsOf: ImageFileTests.fixturePath(testCase.file))
            let resized = LanczosResize.resize(source, width: testCase.width, height: testCase.height)
            XCTAssertEqual(resized.width, testCase.width)
            XCTAssertEqual(resized.height, testCase.height)
            let expected = try ImageFileTests.expectedPixels(testCase.expected)
            let differing = zip(resized.pixels, expected).filter { $0 != $1 }
            let worst = differing.map { abs(Int($0) - Int($1)) }.max() ?? 0
            XCTAssertEqual(differing.count, 0, "\(testCase.file) -> \(testCase.width)x\(testCase.height): \(differing.count) samples differ (max \(worst))")
        }
    }

    func testSameSizeIsACopy() {
        let image = RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(LanczosResize.resize(image, width: 2, height: 1), image)
    }
}
