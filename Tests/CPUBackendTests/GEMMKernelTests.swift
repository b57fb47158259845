import BackendInterface
import Foundation
import XCTest
@testable import CPUBackend

/// Randomised self-checks of the packed GEMM / implicit-GEMM convolution / attention kernels against
/// naive double-precision loops, on every kernel set this CPU can run, at sizes that cross every
/// blocking boundary (edge tiles, several depth blocks, several row blocks). PyTorch parity of the
/// same ops is checked separately by the op parity tests.
final class GEMMKernelTests: XCTestCase {
    private var generator = SeededGenerator(seed: 0x5EED)

    private func random(_ count: Int) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1...1, using: &generator) }
    }

    private func assertClose(_ actual: [Float], _ expected: [Double], _ message: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, message, file: file, line: line)
        let scale = max(1, expected.map(abs).max() ?? 0)
        let error = zip(actual, expected).map { abs(Double($0) - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(error, 2e-5 * scale, "\(message): max error \(error)", file: file, line: line)
    }

    func testGEMMMatchesNaiveLoopOnEveryKernelSet() {
        let shapes = [(1, 1, 1), (7, 33, 5), (13, 70, 300), (150, 45, 17), (64, 2100, 9), (5, 3, 520)]
        for kernels in KernelSet.supportedSets {
            for (m, n, k) in shapes {
                for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
                    let a = random(m * k), b = random(k * n), c = random(m * n)
                    let alpha: Float = 0.75, beta: Float = k % 2 == 0 ? 0 : -0.5
                    var expected = [Double](repeating: 0, count: m * n)
                    for i in 0..<m {
                        for j in 0..<n {
                            var sum = 0.0
                            for p in 0..<k {
                                let aValue = transposeA ? a[p * m + i] : a[i * k + p]
                                let bValue = transposeB ? b[j * k + p] : b[p * n + j]
                                sum += Double(aValue) * Double(bValue)
                            }
                            expected[i * n + j] = Double(alpha) * sum + Double(beta) * Double(c[i * n + j])
                        }
                    }
                    var actual = c
                    let backend = CPUBackend(threads: 2, kernels: kernels)
                    a.withUnsafeBufferPointer { a in
                        b.withUnsafeBufferPointer { b in
                            actual.withUnsafeMutableBufferPointer { out in
                                backend.stridedGEMM(m: m, n: n, k: k, alpha: alpha,
                                                    a: a.baseAddress!, aRowStride: transposeA ? 1 : k, aColumnStride: transposeA ? m : 1,
                                                    b: b.baseAddress!, bRowStride: transposeB ? 1 : n, bColumnStride: transposeB ? k : 1,
                                                    beta: beta, c: out.baseAddress!, ldc: n)
                            }
                        }
                    }
                    assertClose(actual, expected, "\(kernels) sgemm \(m)x\(n)x\(k) tA \(transposeA) tB \(transposeB)")
                }
            }
        }
    }

    func testBetaZeroIgnoresGarbageInOutput() throws {
        let (m, n, k) = (9, 40, 3)
        let backend = CPUBackend(threads: 2)
        let a = backend.buffer(random(m * k)), b = backend.buffer(random(k * n))
        let c = backend.buffer([Float](repeating: .nan, count: m * n))
        backend.gemm(GEMMParameters(m: m, n: n, k: k), a: a, b: b, bias: nil, into: c)
        XCTAssertFalse(try backend.values(c).contains { $0.isNaN })
    }

    func testConvolutionMatchesNaiveLoopOnEveryKernelSet() throws {
        // (inChannels, outChannels, height, width, kernel, stride, padding, bias)
        let cases: [(Int, Int, Int, Int, (Int, Int), (Int, Int), (Int, Int), Bool)] = [
            (3, 8, 11, 13, (3, 3), (1, 1), (1, 1), true),
            (5, 7, 9, 40, (3, 3), (2, 2), (1, 1), false),
            (4, 13, 6, 37, (1, 1), (1, 1), (0, 0), true),
            (6, 5, 10, 9, (1, 1), (2, 2), (0, 0), true),
            (2, 4, 15, 17, (7, 7), (1, 1), (3, 3), true),
            (3, 6, 8, 35, (1, 5), (1, 1), (0, 2), false),
            (3, 6, 12, 7, (5, 1), (1, 1), (2, 0), true),
            (33, 70, 5, 7, (3, 3), (1, 1), (1, 1), true),
            (61, 10, 6, 9, (3, 3), (1, 1), (1, 1), true),  // 549 taps: two depth blocks split mid-channel
            (2, 3, 4, 4, (4, 4), (2, 2), (0, 0), true),
        ]
        for kernels in KernelSet.supportedSets {
            let backend = CPUBackend(threads: 2, kernels: kernels)
            for (inChannels, outChannels, height, width, kernel, stride, padding, hasBias) in cases {
                let x = random(2 * inChannels * height * width)
                let weight = random(outChannels * inChannels * kernel.0 * kernel.1)
                let bias = hasBias ? random(outChannels) : nil
                let parameters = Conv2dParameters(batch: 2, inChannels: inChannels, height: height, width: width,
                                                  outChannels: outChannels, kernelHeight: kernel.0, kernelWidth: kernel.1,
                                                  strideY: stride.0, strideX: stride.1, paddingY: padding.0, paddingX: padding.1)
                let (outHeight, outWidth) = (parameters.outHeight, parameters.outWidth)
                let output = backend.makeBuffer(count: 2 * outChannels * outHeight * outWidth, elementType: .float32)
                backend.conv2d(parameters, input: backend.buffer(x), weight: backend.buffer(weight),
                               bias: bias.map(backend.buffer), into: output)
                var expected: [Double] = []
                for image in 0..<2 {
                    for o in 0..<outChannels {
                        for oy in 0..<outHeight {
                            for ox in 0..<outWidth {
                                var sum = Double(bias?[o] ?? 0)
                                for c in 0..<inChannels {
                                    for ky in 0..<kernel.0 {
                                        for kx in 0..<kernel.1 {
                                            let iy = oy * stride.0 - padding.0 + ky, ix = ox * stride.1 - padding.1 + kx
                                            guard iy >= 0 && iy < height && ix >= 0 && ix < width else { continue }
                                            let input = x[((image * inChannels + c) * height + iy) * width + ix]
                                            let w = weight[((o * inChannels + c) * kernel.0 + ky) * kernel.1 + kx]
                                            sum += Double(input) * Double(w)
                                        }
                                    }
                                }
                                expected.append(sum)
                            }
                        }
                    }
                }
                assertClose(try backend.values(output), expected,
                            "\(kernels) conv \(inChannels)->\(outChannels) \(height)x\(width) k\(kernel) s\(stride) p\(padding)")
            }
        }
    }

    /// Query blocks of 128 rows: 300 queries leave a ragged last block.
    func testAttentionMatchesNaiveLoop() throws {
        let backend = CPUBackend(threads: 3)
        for (batch, queryLength, keyLength, channels, heads, causal) in [(2, 37, 37, 24, 3, true), (1, 300, 45, 32, 2, false),
                                                                       (1, 5, 130, 64, 8, false)] {
            let q = random(batch * queryLength * channels).map { $0 * 3 }
            let k = random(batch * keyLength * channels), v = random(batch * keyLength * channels)
            let headDim = channels / heads
            let output = backend.makeBuffer(count: batch * queryLength * channels, elementType: .float32)
            backend.attention(AttentionParameters(batch: batch, queryLength: queryLength, keyLength: keyLength, channels: channels,
                                                  valueChannels: channels, heads: heads, scale: 1 / Float(headDim).squareRoot(),
                                                  causal: causal),
                              query: backend.buffer(q), key: backend.buffer(k), value: backend.buffer(v), into: output)
            var expected = [Double](repeating: 0, count: batch * queryLength * channels)
            for b in 0..<batch {
                for h in 0..<heads {
                    for i in 0..<queryLength {
                        var scores = (0..<keyLength).map { j -> Double in
                            if causal && j > i { return -.infinity }
                            var dot = 0.0
                            for d in 0..<headDim {
                                dot += Double(q[(b * queryLength + i) * channels + h * headDim + d])
                                    * Double(k[(b * keyLength + j) * channels + h * headDim + d])
                            }
                            return dot / Double(headDim).squareRoot()
                        }
                        let maximum = scores.max()!
                        scores = scores.map { Foundation.exp($0 - maximum) }
                        let total = scores.reduce(0, +)
                        for d in 0..<headDim {
                            var sum = 0.0
                            for j in 0..<keyLength { sum += scores[j] / total * Double(v[(b * keyLength + j) * channels + h * headDim + d]) }
                            expected[(b * queryLength + i) * channels + h * headDim + d] = sum
                        }
                    }
                }
            }
            assertClose(try backend.values(output), expected, "attention b\(batch) q\(queryLength) k\(keyLength) c\(channels) h\(heads)")
        }
    }

    func testVectorExpAndSoftmax() throws {
        let inputs: [Float] = [-.infinity, -100, -87.5, -20, -1e-3, 0, 1e-7, 0.5, 1, 10, 50, 88] + random(37).map { $0 * 30 }
        for kernels in KernelSet.supportedSets {
            var values = inputs
            values.withUnsafeMutableBufferPointer { kernels.table.exp($0.baseAddress!, $0.count) }
            for (input, value) in zip(inputs, values) {
                let reference = Foundation.exp(Double(input))
                XCTAssertLessThanOrEqual(abs(Double(value) - reference), 4e-7 * reference + 1e-37, "\(kernels) exp(\(input)) = \(value)")
            }
        }
        let x = random(63).map { $0 * 20 }
        let backend = CPUBackend(threads: 2)
        let output = backend.makeBuffer(count: 63, elementType: .float32)
        backend.softmax(RowParameters(rows: 3, length: 21), backend.buffer(x), into: output)
        var expected: [Double] = []
        for row in 0..<3 {
            let line = (0..<21).map { Double(x[row * 21 + $0]) }
            let maximum = line.max()!
            let exps = line.map { Foundation.exp($0 - maximum) }
            expected += exps.map { $0 / exps.reduce(0, +) }
        }
        assertClose(try backend.values(output), expected, "softmax")
    }
}

extension CPUBackend {
    /// A float32 buffer holding `values`.
    func buffer(_ values: [Float]) -> BackendBuffer {
        makeBuffer(count: values.count, elementType: .float32) { bytes in values.withUnsafeBytes { bytes.copyMemory(from: $0) } }
    }

    func values(_ buffer: BackendBuffer) throws -> [Float] {
        try read(buffer) { Array($0.bindMemory(to: Float.self)) }
    }
}

/// SplitMix64: reproducible test data.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
