// The pipeline's fused operations against their references, on every test device: the DDIM step
// (diffusers' DDIMScheduler.step, every prediction type, clipped and not), RAFT's coordinate grid,
// convex upsampling and correlation lookup in both forms (torchvision), and the flow-warp sampling
// grid (the original's util/flow_utils.py).

import TensorEngine
import TestSupport
import XCTest

final class StreamOperationParityTests: XCTestCase {
    func testDDIMStep() throws {
        let fixture = try engineFixture("stream")
        let cases = fixture.file.entries.keys.filter { $0.hasPrefix("ddim.") && $0.hasSuffix(".coefficients") }
            .map { String($0.dropLast(".coefficients".count)) }.sorted()
        XCTAssertEqual(cases.count, 12, "3 prediction types x clip x 2 timesteps")
        try forEachDevice { device in
            for key in cases {
                let prediction: PredictionType = key.contains("v_prediction") ? .vPrediction : key.contains("sample_") ? .sample : .epsilon
                let c = try fixture[key + ".coefficients"].scalars
                let parameters = DDIMStepParameters(prediction: prediction, sqrtAlpha: c[0], sqrtBeta: c[1], sqrtAlphaPrevious: c[2],
                                                    directionScale: c[3], clip: key.contains("_clip_") ? 1.5 : nil)
                let result = ddimStep(sample: try fixture.tensor(key + ".sample", on: device),
                                      modelOutput: try fixture.tensor(key + ".model_output", on: device), parameters)
                assertClose(result, try fixture[key + ".output"], tolerance: 2e-6, key)
            }
        }
    }

    func testCoordinateAndFlowGrids() throws {
        let fixture = try engineFixture("stream")
        try forEachDevice { device in
            assertClose(coordinateGrid(batch: 2, height: 5, width: 7, on: device), try fixture["coordinate_grid.output"],
                        tolerance: 0, "coordinate grid")
            assertClose(flowSamplingGrid(try fixture.tensor("flow_grid.flow", on: device)), try fixture["flow_grid.output"],
                        tolerance: 1e-6, "flow-warp grid")
        }
    }

    func testConvexUpsampling() throws {
        let fixture = try engineFixture("stream")
        try forEachDevice { device in
            let result = convexUpsample(flow: try fixture.tensor("convex_upsample.flow", on: device),
                                        mask: try fixture.tensor("convex_upsample.mask", on: device), factor: 8)
            assertClose(result, try fixture["convex_upsample.output"], tolerance: 1e-5, "convex upsampling")
        }
    }

    /// torchvision's CorrBlock: the volume (fmap1ᵀ fmap2 / sqrt(C)), its pooled pyramid and the radius-4
    /// lookup, and the on-demand form from the same feature maps.
    func testCorrelationLookupInBothForms() throws {
        let fixture = try engineFixture("stream")
        try forEachDevice { device in
            let (fmap1, fmap2) = (try fixture.tensor("correlation.fmap1", on: device), try fixture.tensor("correlation.fmap2", on: device))
            let coordinates = try fixture.tensor("correlation.coords", on: device)
            let expected = try fixture["correlation.output"]
            let (channels, height, width) = (fmap1.dim(1), fmap1.dim(2), fmap1.dim(3))
            let pixels = height * width
            let volume = matmul(fmap1.reshaped([channels, pixels]), fmap2.reshaped([channels, pixels]), transposeA: true)
                / Float(channels).squareRoot()
            var volumes = [volume.reshaped([pixels, 1, height, width])]
            var keys = [fmap2]
            for _ in 1..<4 {
                volumes.append(avgPool2d(volumes.last!, kernel: (2, 2)))
                keys.append(avgPool2d(keys.last!, kernel: (2, 2)))
            }
            assertClose(correlationLookup(volumes: volumes, coordinates: coordinates, radius: 4), expected,
                        tolerance: 2e-5, "stored pyramid")
            let queries = fmap1.reshaped([channels, pixels]).permuted([1, 0]) * (1 / Float(channels).squareRoot())
            let levelSizes = keys.map { [$0.dim(2), $0.dim(3)] }
            let onDemand = correlationLookup(queries: queries, keys: keys.map { $0.reshaped([channels, -1]).permuted([1, 0]) },
                                             levelSizes: levelSizes, coordinates: coordinates, radius: 4)
            assertClose(onDemand, expected, tolerance: 2e-5, "on demand")
        }
    }

    func testFrameTransfersRoundTrip() throws {
        let pixels: [UInt8] = (0..<(5 * 3 * 3)).map { UInt8(($0 * 37) % 256) }
        try forEachDevice { device in
            let image = Tensor(rgb8: pixels, width: 5, height: 3, on: device)
            XCTAssertEqual(image.shape, [1, 3, 3, 5])
            XCTAssertEqual(try image.rgb8(), pixels, "x / 255 * 2 - 1 then back rounds to the same bytes")
            let values = try image.scalars
            XCTAssertEqual(values[0], 2 * (Float(pixels[0]) / 255) - 1)
            XCTAssertEqual(values[15], 2 * (Float(pixels[1]) / 255) - 1, "planar: the green plane follows the red one")
        }
    }
}
