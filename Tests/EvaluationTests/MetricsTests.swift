// PSNR/SSIM against BasicSR's formulas (run with OpenCV) and the warping error against the original
// repository's warp_error (run in PyTorch), both from tools/fixtures/gen_metrics.py.

import Checkpoints
import Foundation
import Media
import StreamDiffVSR
import TensorEngine
import XCTest
@testable import Evaluation

final class MetricsTests: XCTestCase {
    private var folder: URL { Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("metrics") }

    private struct Expected: Decodable {
        struct Quality: Decodable {
            let output: String
            let reference: String
            let cropBorder: Int
            let psnrY: Double
            let ssimY: Double
            let psnrRGB: Double
            let ssimRGB: Double
        }
        let quality: [Quality]
        let warpingError: Double
        let unoccluded: Int
    }

    private func expected() throws -> Expected {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(Expected.self, from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
    }

    private func assertClose(_ value: Double, _ reference: Double, _ message: String) {
        if reference.isInfinite { return XCTAssertEqual(value, reference, message) }
        XCTAssertEqual(value, reference, accuracy: 1e-9 * max(1, abs(reference)), message)
    }

    func testPSNRAndSSIMMatchBasicSROnYAndRGBWithAndWithoutCrop() throws {
        let cases = try expected().quality
        XCTAssertEqual(cases.count, 6)
        for item in cases {
            let output = try ImageFile.read(folder.appendingPathComponent(item.output).path)
            let reference = try ImageFile.read(folder.appendingPathComponent(item.reference).path)
            let name = "\(item.output) crop \(item.cropBorder)"
            assertClose(try ImageQuality.psnr(output, reference, cropBorder: item.cropBorder, channels: .y), item.psnrY, "PSNR-Y \(name)")
            assertClose(try ImageQuality.ssim(output, reference, cropBorder: item.cropBorder, channels: .y), item.ssimY, "SSIM-Y \(name)")
            assertClose(try ImageQuality.psnr(output, reference, cropBorder: item.cropBorder, channels: .rgb), item.psnrRGB, "PSNR-RGB \(name)")
            assertClose(try ImageQuality.ssim(output, reference, cropBorder: item.cropBorder, channels: .rgb), item.ssimRGB, "SSIM-RGB \(name)")
        }
        // The fixture has a degraded pair whose Y and RGB scores differ, and an identical pair.
        XCTAssertGreaterThan(abs(cases[0].psnrY - cases[0].psnrRGB), 1)
        XCTAssertEqual(cases.last?.ssimY, 1)
    }

    func testWarpingErrorMatchesTheOriginalWithItsOcclusionMask() throws {
        let file = try SafeTensorsFile(path: folder.appendingPathComponent("warp.safetensors").path)
        let (forward, backward) = (try file.tensor("forward"), try file.tensor("backward"))
        let reference = try expected()
        let error = try WarpingError.error(current: try file.tensor("current"), previous: try file.tensor("previous"),
                                       forward: forward, backward: backward)
        XCTAssertEqual(error, reference.warpingError, accuracy: 1e-6 * reference.warpingError)

        let (height, width) = (forward.shape[2], forward.shape[3])
        let warpedBackward = MotionCompensation.flowWarp(backward, flow: forward)
        let mask = WarpingError.unoccluded(forward: try forward.scalars, warpedBackward: try warpedBackward.scalars, height: height, width: width)
        XCTAssertEqual(mask.map { $0 ? Float(1) : 0 }, try file.tensor("mask").scalars)
        XCTAssertEqual(mask.filter { $0 }.count, reference.unoccluded)
        XCTAssertGreaterThan(reference.unoccluded, height * width / 2, "the case needs both occluded and unoccluded pixels")
        XCTAssertLessThan(reference.unoccluded, height * width)
    }

    func testIdenticalFramesAndBadSizesFailClearly() throws {
        let image = try ImageFile.read(folder.appendingPathComponent("a_output.png").path)
        XCTAssertEqual(try ImageQuality.psnr(image, image, cropBorder: 0, channels: .y), .infinity)
        XCTAssertEqual(try ImageQuality.ssim(image, image, cropBorder: 2, channels: .rgb), 1, accuracy: 1e-12)
        let other = try ImageFile.read(folder.appendingPathComponent("b_output.png").path)
        XCTAssertThrowsError(try ImageQuality.psnr(image, other, cropBorder: 0, channels: .y)) {
            XCTAssertEqual($0 as? EvaluationError, .sizeMismatch(output: "48x40", reference: "37x29"))
        }
        XCTAssertThrowsError(try ImageQuality.ssim(image, image, cropBorder: 15, channels: .y)) {
            XCTAssertEqual($0 as? EvaluationError, .tooSmall(size: "48x40", cropBorder: 15, minimum: 11))
        }
    }
}
