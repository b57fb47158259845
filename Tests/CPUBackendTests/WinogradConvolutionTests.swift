// The Winograd F(2x2, 3x3) path against a float64 direct convolution: band splits (including a last
// band of fewer tile rows), odd and even sides, batches, every kernel set and thread count, and calls
// running at the same time. Its PyTorch parity case is `k3_winograd` in ConvolutionParityTests.

import BackendInterface
import Foundation
import XCTest
@testable import CPUBackend

final class WinogradConvolutionTests: XCTestCase {
    let tolerance: Float = 1e-4

    func testShapesTheModelsUseTakeTheWinogradPath() {
        XCTAssertTrue(WinogradConvolution.isFaster(inChannels: 256, outChannels: 256, height: 64, width: 64))
        XCTAssertTrue(WinogradConvolution.isFaster(inChannels: 64, outChannels: 64, height: 720, width: 1280))
        XCTAssertFalse(WinogradConvolution.isFaster(inChannels: 7, outChannels: 256, height: 64, width: 64))
        XCTAssertTrue(WinogradConvolution.isFaster(inChannels: 1024, outChannels: 1024, height: 23, width: 40))
        XCTAssertFalse(WinogradConvolution.isFaster(inChannels: 512, outChannels: 512, height: 16, width: 16))
    }

    func testBandsSidesAndBatchesMatchADirectConvolution() throws {
        let cases: [(name: String, input: [Int], outChannels: Int, bandTiles: Int?, hasBias: Bool)] = [
            ("odd sides, one band", [1, 16, 15, 13], 24, nil, true),
            ("bands of 2 tile rows, short last band", [2, 12, 17, 20], 8, 20, true),
            ("bands of 1 tile row, odd width, no bias", [1, 8, 6, 9], 16, 1, false),
            ("even sides, GEMM edge tiles", [1, 19, 8, 70], 11, 70, true),
        ]
        var generator = SeededGenerator(seed: 0x3A3)
        for testCase in cases {
            let convolution = DirectConvolution(input: testCase.input, outChannels: testCase.outChannels,
                                                hasBias: testCase.hasBias, generator: &generator)
            for kernels in KernelSet.supportedSets {
                for threads in [1, 3] {
                    let result = try convolution.winograd(on: CPUBackend(threads: threads, kernels: kernels), bandTiles: testCase.bandTiles)
                    assertClose(result, convolution.expected, "\(testCase.name), \(kernels.rawValue), \(threads) threads")
                }
            }
        }
    }

    /// Streams sharing one process convolve at the same time: each call gets its own scratch arena.
    func testConcurrentCallsEachGetTheirOwnScratch() throws {
        var generator = SeededGenerator(seed: 0x70)
        let cases = [([1, 16, 20, 18], 24), ([1, 24, 13, 30], 16)].map { input, outChannels in
            DirectConvolution(input: input, outChannels: outChannels, hasBias: false, generator: &generator)
        }
        let backend = CPUBackend(threads: 2)
        // Each concurrent iteration writes only its own element.
        nonisolated(unsafe) let results = UnsafeMutableBufferPointer<[Float]>.allocate(capacity: 2 * cases.count)
        results.initialize(repeating: [])
        defer { results.deallocate() }
        DispatchQueue.concurrentPerform(iterations: results.count) { index in
            results[index] = (try? cases[index % cases.count].winograd(on: backend, bandTiles: 9)) ?? []
        }
        for (index, result) in results.enumerated() {
            assertClose(result, cases[index % cases.count].expected, "concurrent call \(index)")
        }
    }

    private func assertClose(_ actual: [Float], _ expected: [Double], _ message: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, message, file: file, line: line)
        let scale = max(1, expected.map(abs).max() ?? 0)
        let error = zip(actual, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(error, Double(tolerance) * scale, "\(message): max error \(error)", file: file, line: line)
    }
}

/// A random 3x3, stride-1, padding-1 convolution and its float64 direct result.
private struct DirectConvolution {
    let parameters: Conv2dParameters
    let input: [Float], weight: [Float], bias: [Float]?
    let expected: [Double]

    init(input shape: [Int], outChannels: Int, hasBias: Bool, generator: inout SeededGenerator) {
        parameters = Conv2dParameters(batch: shape[0], inChannels: shape[1], height: shape[2], width: shape[3],
                                      outChannels: outChannels, kernelHeight: 3, kernelWidth: 3, paddingY: 1, paddingX: 1)
        let p = parameters
        input = (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &generator) }
        weight = (0..<(outChannels * p.inChannels * 9)).map { _ in Float.random(in: -1...1, using: &generator) }
        bias = hasBias ? (0..<outChannels).map { _ in Float.random(in: -1...1, using: &generator) } : nil
        var expected: [Double] = []
        for n in 0..<p.batch {
            for o in 0..<outChannels {
                for y in 0..<p.height {
                    for x in 0..<p.width {
                        var sum = Double(bias?[o] ?? 0)
                        for c in 0..<p.inChannels {
                            for ky in 0..<3 {
                                for kx in 0..<3 {
                                    let (iy, ix) = (y - 1 + ky, x - 1 + kx)
                                    guard iy >= 0 && iy < p.height && ix >= 0 && ix < p.width else { continue }
                                    sum += Double(input[((n * p.inChannels + c) * p.height + iy) * p.width + ix])
                                        * Double(weight[((o * p.inChannels + c) * 3 + ky) * 3 + kx])
                                }
                            }
                        }
                        expected.append(sum)
                    }
                }
            }
        }
        self.expected = expected
    }

    func winograd(on backend: CPUBackend, bandTiles: Int?) throws -> [Float] {
        let (x, w) = (backend.buffer(input), backend.buffer(weight))
        let b = bias.map(backend.buffer)
        let output = backend.makeBuffer(count: expected.count, elementType: .float32)
        WinogradConvolution.convolve(parameters, input: backend.floats(x), weight: backend.floats(w),
                                     bias: b.map { UnsafePointer(backend.floats($0)) }, output: backend.floats(output),
                                     backend: backend, bandTiles: bandTiles)
        return try backend.values(output)
    }
}
