// Tiled diffusion: the tile geometry, the blending, and tiled frames of the tiny model against
// untiled ones, on every test device.

import Foundation
@testable import StreamDiffVSR
import TensorEngine
import TestSupport
import XCTest

final class TilingTests: XCTestCase {
    func testTilesCoverTheFrameOnAlignedOrigins() {
        for (height, width, tile, overlap) in [(180, 320, 64, 16), (540, 960, 256, 32), (37, 45, 16, 4), (64, 64, 64, 16), (129, 63, 64, 8)] {
            let plan = TilePlan(height: height, width: width, tile: tile, overlap: overlap)
            var covered = [Int](repeating: 0, count: height * width)
            for t in plan.tiles {
                XCTAssertEqual(t.row % 8, 0, "row origin aligned")
                XCTAssertEqual(t.column % 8, 0, "column origin aligned")
                XCTAssertLessThanOrEqual(t.height, max(tile, 8) + 7)
                XCTAssertLessThanOrEqual(t.width, max(tile, 8) + 7)
                for y in t.row..<(t.row + t.height) { for x in t.column..<(t.column + t.width) { covered[y * width + x] += 1 } }
            }
            XCTAssert(covered.allSatisfy { $0 >= 1 }, "\(height)x\(width) tile \(tile): every pixel covered")
            let needsTiles = height > max(tile, 8) || width > max(tile, 8)
            XCTAssertEqual(plan.isTiled, needsTiles, "\(height)x\(width) tile \(tile)")
        }
    }

    func testNeighboursOverlapAtLeastTheRequestedWidth() {
        let spans = TilePlan.spans(length: 320, tile: 64, overlap: 16, alignment: 8)
        for (left, right) in zip(spans, spans.dropFirst()) {
            XCTAssertGreaterThanOrEqual(left.start + left.length - right.start, 16)
            XCTAssertEqual(left.rampAfter, left.start + left.length - right.start)
            XCTAssertEqual(right.rampBefore, left.rampAfter)
        }
        XCTAssertEqual(spans.first?.rampBefore, 0)
        XCTAssertEqual(spans.last?.rampAfter, 0)
        XCTAssertEqual(spans.last.map { $0.start + $0.length }, 320)
    }

    func testRampsOfTwoNeighboursSumToOne() {
        let ramp = TilePlan.ramp(length: 10, before: 0, after: 4)
        let next = TilePlan.ramp(length: 10, before: 4, after: 0)
        for k in 0..<4 { XCTAssertEqual(ramp[6 + k] + next[k], 1, accuracy: 1e-6) }
        XCTAssertEqual(Array(ramp.prefix(6)), Array(repeating: 1, count: 6))
    }

    /// Blending windows of one tensor gives the tensor back: the weights, windows and accumulation agree.
    func testBlendingWindowsOfOneTensorReconstructsIt() throws {
        try forEachDevice { device in
            let (height, width, scale) = (45, 70, 2)
            let values = (0..<(3 * height * scale * width * scale)).map { Float(($0 * 7919) % 1000) / 100 - 5 }
            let full = Tensor(shape: [1, 3, height * scale, width * scale], scalars: values, on: device)
            let plan = TilePlan(height: height, width: width, tile: 16, overlap: 6)
            XCTAssertGreaterThan(plan.tiles.count, 9)
            var accumulator = TileAccumulator(shape: full.shape, scale: scale, plan: plan)
            for tile in plan.tiles {
                accumulator.add(full.window(row: tile.row * scale, column: tile.column * scale,
                                            height: tile.height * scale, width: tile.width * scale), tile: tile)
            }
            assertClose(accumulator.blended(), full, tolerance: 1e-6, "reconstruction on \(device)")
        }
    }

    func testAutomaticTilingOnlyWhenTheFrameDoesNotFit() {
        let model = FrameMemoryModel(unetChannels: 256, decoderChannels: 64, scale: 4)
        XCTAssertNil(model.tileSide(height: 64, width: 64, budget: 8e9), "a small frame is never tiled")
        let budget = model.workingBytes(framePixels: 540 * 960, tilePixels: 200 * 200)
        let side = model.tileSide(height: 540, width: 960, budget: budget)
        XCTAssertEqual(side, 192, "the largest multiple of 32 within the budget")
        XCTAssertEqual(model.tileSide(height: 540, width: 960, budget: 1), 64, "nothing fits: the smallest tile")
    }
}
