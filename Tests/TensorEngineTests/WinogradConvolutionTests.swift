// The Winograd F(2x2, 3x3) path against a float64 direct convolution: band splits (including a last
// band of fewer tile rows), odd and even sides, batches, every kernel set and thread count, and calls
// running at the same time. Its PyTorch parity case is `k3_winograd` in ConvolutionParityTests.

import Foundation
@testable import TensorEngine
import TestSupport
import XCTest

final class WinogradConvolutionTests: XCTestCase {
    let tolerance: Float = 1e-4

    func testShapesTheModelsUseTakeTheWinogradPath() {
        XCTAssertTrue(WinogradConvolution.isFaster(inChannels: 256, outChannels: 256, height: 64, width: 64))
        XCTAssertTrue(WinogradConvolution.isFaster(inChannels: 64, outChannels: 64, height: 720, width: 1280))
        XCTAssertFalse(WinogradConvolution.isFaster(inChannels: 7, outChannels: 256, height: 64, width: 64))
        XCTAssertTrue(WinogradConvolution.isFaster(inChannels: 1024, outChannels: 1024, height: 23, width: 40))
        XCTAssertFalse(WinogradConvolution.isFaster(inChannels: 512, outChannels: 512, height: 16, width: 16))
    }

    func testBandsSidesAndBatchesMatchADirectConvolution() {
        let cases: [(name: String, input: [Int], outChannels: Int, bandTiles: Int?, hasBias: Bool)] = [
            ("odd sides, one band", [1, 16, 15, 13], 24, nil, true),
            ("bands of 2 tile rows, short last band", [2, 12, 17, 20], 8, 20, true),
            ("bands of 1 tile row, odd width, no bias", [1, 8, 6, 9], 16, 1, false),
            ("even sides, GEMM edge tiles", [1, 19, 8, 70], 11, 70, true),
        ]
        for (index, testCase) in cases.enumerated() {
            let x = seededTensor(testCase.input, seed: UInt64(40 + index))
            let weight = seededTensor([testCase.outChannels, testCase.input[1], 3, 3], seed: UInt64(50 + index))
            let bias = testCase.hasBias ? seededTensor([testCase.outChannels], seed: UInt64(60 + index)) : nil
            let expected = referenceConv2d(x, weight: weight, bias: bias, stride: (1, 1), padding: (1, 1))
            for kernels in KernelSet.supportedSets {
                withThreadCounts([1, 3]) { threads in
                    let result = WinogradConvolution.convolve(x, weight: weight, bias: bias, kernels: kernels,
                                                              bandTiles: testCase.bandTiles)
                    assertClose(result, expected, tolerance: tolerance,
                                "\(testCase.name), \(kernels.rawValue), \(threads) threads")
                }
            }
        }
    }

    /// Streams sharing one process convolve at the same time: each call gets its own scratch arena.
    func testConcurrentCallsEachGetTheirOwnScratch() {
        let shapes: [(input: [Int], outChannels: Int)] = [([1, 16, 20, 18], 24), ([1, 24, 13, 30], 16)]
        let cases = shapes.enumerated().map { index, shape in
            let x = seededTensor(shape.input, seed: UInt64(70 + index))
            let weight = seededTensor([shape.outChannels, shape.input[1], 3, 3], seed: UInt64(80 + index))
            return (x, weight, referenceConv2d(x, weight: weight, bias: nil, stride: (1, 1), padding: (1, 1)))
        }
        let results = UnsafeMutableBufferPointer<Tensor?>.allocate(capacity: 2 * cases.count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: results.count) { index in
            let (x, weight, _) = cases[index % cases.count]
            results[index] = WinogradConvolution.convolve(x, weight: weight, bias: nil, kernels: .active, bandTiles: 9)
        }
        for (index, result) in results.enumerated() {
            assertClose(result!, cases[index % cases.count].2, tolerance: tolerance, "concurrent call \(index)")
        }
    }
}
