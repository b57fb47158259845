// interpolate (nearest, bilinear with and without align_corners, bicubic; by size and by scale
// factor, including the factors where PyTorch's index arithmetic has special cases), grid_sample
// (bilinear/nearest x zeros/border x align_corners, also on NaN / infinite / huge coordinates) and
// avg_pool2d against torch.nn.functional, on every test device.

import TensorEngine
import TestSupport
import XCTest

final class ResamplingParityTests: XCTestCase {
    /// A handful of products per output: only rounding differences remain.
    let tolerance: Float = 1e-5

    func testInterpolate() throws {
        let fixture = try engineFixture("resampling")
        let cases: [(name: String, size: (Int, Int)?, scaleFactor: Double?, mode: InterpolationMode, alignCorners: Bool)] = [
            ("nearest_x2", nil, 2.0, .nearest, false),
            ("nearest_size_down", (4, 5), nil, .nearest, false),
            ("nearest_size_up", (9, 13), nil, .nearest, false),
            ("nearest_scale_1_5", nil, 1.5, .nearest, false),
            ("nearest_scale_same_size", nil, 1.01, .nearest, false),
            ("nearest_scale_double_size", nil, 2.05, .nearest, false),
            ("nearest_scale_0_3", nil, 0.3, .nearest, false),
            ("bilinear_up", (11, 13), nil, .bilinear, false),
            ("bilinear_up_aligned", (11, 13), nil, .bilinear, true),
            ("bilinear_down", (5, 4), nil, .bilinear, false),
            ("bilinear_down_aligned", (5, 4), nil, .bilinear, true),
            ("bilinear_x2", nil, 2.0, .bilinear, false),
            ("bilinear_x8_aligned", nil, 8.0, .bilinear, true),
            ("bilinear_scale_0_3", nil, 0.3, .bilinear, false),
            ("bilinear_one_pixel", (3, 4), nil, .bilinear, false),
            ("bilinear_one_pixel_aligned", (3, 4), nil, .bilinear, true),
            ("bilinear_to_one_pixel_aligned", (1, 1), nil, .bilinear, true),
            ("bicubic_x4", nil, 4.0, .bicubic, false),
            ("bicubic_size", (12, 7), nil, .bicubic, false),
            ("bicubic_size_aligned", (12, 7), nil, .bicubic, true),
            ("bicubic_down", (5, 5), nil, .bicubic, false),
            ("bicubic_one_pixel", nil, 4.0, .bicubic, false),
        ]
        try forEachDevice { device in
            for (name, size, scaleFactor, mode, alignCorners) in cases {
                let prefix = "interpolate.\(name)."
                let result = interpolate(try fixture.tensor(prefix + "input", on: device), size: size, scaleFactor: scaleFactor,
                                         mode: mode, alignCorners: alignCorners)
                assertClose(result, try fixture[prefix + "output"], tolerance: tolerance, "interpolate \(name)")
            }
        }
    }

    func testGridSample() throws {
        let fixture = try engineFixture("resampling")
        let modes: [(String, GridSampleMode)] = [("bilinear", .bilinear), ("nearest", .nearest)]
        let paddings: [(String, GridSamplePadding)] = [("zeros", .zeros), ("border", .border)]
        try forEachDevice { device in
            for prefix in ["grid_sample.", "grid_sample.one_pixel.", "grid_sample.non_finite."] {
                let (input, grid) = (try fixture.tensor(prefix + "input", on: device), try fixture.tensor(prefix + "grid", on: device))
                for (modeName, mode) in modes {
                    for (paddingName, padding) in paddings {
                        for alignCorners in [false, true] {
                            let key = "\(prefix)\(modeName)_\(paddingName)_\(alignCorners ? "aligned" : "unaligned")"
                            let result = gridSample(input, grid: grid, mode: mode, padding: padding, alignCorners: alignCorners)
                            try assertCloseWithMatchingNaNs(result, try fixture[key + ".output"], "\(key) on \(device)")
                        }
                    }
                }
            }
        }
    }

    func testAvgPool2d() throws {
        let fixture = try engineFixture("resampling")
        let cases: [(name: String, kernel: (Int, Int), stride: (Int, Int))] = [
            ("k2", (2, 2), (2, 2)), ("k3_s2", (3, 3), (2, 2)), ("k2x3_s1x2", (2, 3), (1, 2)),
        ]
        try forEachDevice { device in
            for (name, kernel, stride) in cases {
                let prefix = "avg_pool.\(name)."
                let result = avgPool2d(try fixture.tensor(prefix + "input", on: device), kernel: kernel, stride: stride)
                assertClose(result, try fixture[prefix + "output"], tolerance: tolerance, "avg_pool2d \(name)")
            }
        }
    }

    /// NaN exactly where PyTorch has NaN (a non-finite sampling position), close everywhere else.
    private func assertCloseWithMatchingNaNs(_ actual: Tensor, _ expected: Tensor, _ message: String,
                                             file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(actual.shape, expected.shape, message, file: file, line: line)
        guard actual.shape == expected.shape else { return }
        var (actualValues, expectedValues) = (try actual.scalars, try expected.scalars)
        let nanMismatches = (0..<expectedValues.count).filter { actualValues[$0].isNaN != expectedValues[$0].isNaN }
        XCTAssert(nanMismatches.isEmpty, "\(message): NaN pattern differs at \(nanMismatches.prefix(8))", file: file, line: line)
        for i in 0..<expectedValues.count where expectedValues[i].isNaN || actualValues[i].isNaN {
            (actualValues[i], expectedValues[i]) = (0, 0)
        }
        assertClose(Tensor(shape: actual.shape, scalars: actualValues), Tensor(shape: expected.shape, scalars: expectedValues),
                    tolerance: tolerance, message, file: file, line: line)
    }
}
