// torch-compatible noise. CPU: bit-exact against torch.manual_seed + torch.randn run by
// tools/fixtures/gen_torch_noise.py (both of ATen's float kernels, several seeds and sizes, consecutive
// draws). CUDA, with no GPU at hand: Philox4x32-10 against Random123's published known answers, randn
// against a real GPU's printout published with its source, and the launch-geometry rules derived from
// ATen's kernel (each derivation is spelled out in its test).

import Foundation
@testable import StreamDiffVSR
import XCTest

final class TorchNoiseTests: XCTestCase {
    private struct Draw: Decodable {
        let shape: [Int]
        let bits: [UInt32]?
        let fnv1a64: String?
        let head: [UInt32]?
        let tail: [UInt32]?
    }

    private struct SeedCase: Decodable {
        let seed: UInt64
        let draws: [Draw]
    }

    private struct Prelude: Decodable {
        let seed: UInt64
        let words: Int
        let cachedNormal: Double?
        let firstLatent: Draw
    }

    private struct KernelFixture: Decodable {
        let cases: [SeedCase]
        let raftLargeInitialisation: Prelude
    }

    private func fixture() throws -> [String: KernelFixture] {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "torch_noise", withExtension: "json", subdirectory: "Fixtures"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode([String: KernelFixture].self, from: Data(contentsOf: url))
    }

    /// The fixture's name for each of our kernels (its ATEN_CPU_CAPABILITY).
    private let kernels: [(TorchCPUGenerator.Kernel, String)] = [(.avx2, "avx2"), (.generic, "default")]

    private func assertBitExact(_ values: [Float], _ expected: Draw, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        guard values.count == expected.shape.reduce(1, *) else {
            return XCTFail("\(message): \(values.count) values, expected \(expected.shape)", file: file, line: line)
        }
        let bits = values.map(\.bitPattern)
        if let expectedBits = expected.bits {
            let mismatch = bits.indices.first { bits[$0] != expectedBits[$0] }
            XCTAssertNil(mismatch, "\(message): first mismatch at \(mismatch ?? 0): " +
                         "\(values[mismatch ?? 0]) vs \(Float(bitPattern: expectedBits[mismatch ?? 0]))", file: file, line: line)
            return
        }
        XCTAssertEqual(Array(bits.prefix(16)), expected.head, "\(message) head", file: file, line: line)
        XCTAssertEqual(Array(bits.suffix(16)), expected.tail, "\(message) tail", file: file, line: line)
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for word in bits {
            for byte in 0..<4 { hash = (hash ^ UInt64((word >> (8 * byte)) & 0xFF)) &* 0x100_0000_01B3 }
        }
        XCTAssertEqual(String(hash, radix: 16).leftPadded(to: 16), expected.fnv1a64, "\(message) hash of all values", file: file, line: line)
    }

    /// Sizes below 16 (double Box-Muller, spare normal carried across calls), exactly 16, tails of 1..15
    /// past a multiple of 16 (the last 16 redrawn), large tensors, 64-bit seeds (low 32 bits kept).
    func testCPUGeneratorMatchesTorchBitForBit() throws {
        let fixture = try fixture()
        for (kernel, name) in kernels {
            let cases = try XCTUnwrap(fixture[name]).cases
            XCTAssertGreaterThanOrEqual(cases.count, 4)
            for seedCase in cases {
                var generator = TorchCPUGenerator(seed: seedCase.seed, kernel: kernel)
                for (index, draw) in seedCase.draws.enumerated() {
                    assertBitExact(generator.randn(count: draw.shape.reduce(1, *)), draw,
                                   "\(name) seed \(seedCase.seed) draw \(index) \(draw.shape)")
                }
            }
        }
    }

    /// The CPU stream starts where the original's CPU run draws its first latent: after building raft_large.
    func testCPUStreamStartsAfterTheRAFTInitialisationLikeTheOriginal() throws {
        let fixture = try fixture()
        for (kernel, name) in kernels {
            let prelude = try XCTUnwrap(fixture[name]).raftLargeInitialisation
            XCTAssertEqual(prelude.words, TorchNoiseStream.raftLargeInitialisationWords, name)
            XCTAssertNil(prelude.cachedNormal, "\(name): no spare normal is left to carry over")
            let stream = try XCTUnwrap(TorchNoiseStream(source: .torchCPU(kernel), seed: prelude.seed))
            assertBitExact(try stream.nextLatents(count: prelude.firstLatent.shape.reduce(1, *)), prelude.firstLatent, "\(name) first latent")
        }
    }

    /// C++'s [rand.predef]: the 10000th output of a default-constructed std::mt19937 (seed 5489) is 4123659995.
    func testMersenneTwisterMatchesTheStandardReferenceValue() {
        var engine = MersenneTwister(seed: 5489)
        engine.skip(9999)
        XCTAssertEqual(engine.next(), 4_123_659_995)
    }

    /// Random123's kat_vectors (github.com/DEShawResearch/random123, tests/kat_vectors), "philox4x32 10":
    /// counter words, key words, expected output words.
    func testPhiloxMatchesRandom123KnownAnswers() {
        let cases: [((UInt32, UInt32, UInt32, UInt32), (UInt32, UInt32), [UInt32])] = [
            ((0, 0, 0, 0), (0, 0), [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8]),
            ((.max, .max, .max, .max), (.max, .max), [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD]),
            ((0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), (0xA409_3822, 0x299F_31D0),
             [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1]),
        ]
        for (counter, key, expected) in cases {
            let output = Philox4x32.block(counter: counter, key: key)
            XCTAssertEqual([output.0, output.1, output.2, output.3], expected)
        }
    }

    /// A real GPU's torch::randn, printed to 4 decimals: github.com/kapilsh/cuda-mode-lecture, FusedKernels.ipynb
    /// (commit 053977d), the output of kernels/src/fused_kernels_lora_main.cc built for sm_75:
    ///     torch::manual_seed(0); x = randn({8, 10}, kCUDA); bias = randn(10, kCUDA); y = randn({8, 10}, kCUDA)
    /// Three consecutive draws, so the Philox offsets 0, 4 and 8 and the sin-then-cos order are all checked.
    /// Ours may differ from the GPU by ~1e-6 (its __sincosf), so the bound is half a printed unit plus that.
    func testCUDAGeneratorMatchesAPublishedGPURun() throws {
        let x: [Float] = [
            -0.9247, -0.4253, -2.6438, 0.1452, -0.1209, -0.5797, -0.6229, -0.3284, -1.0745, -0.3631,
            -1.6711, 2.2655, 0.3117, -0.1842, 1.2866, 1.1820, -0.1271, 1.2169, 1.4353, 1.0605,
            -0.4941, -1.4244, -0.7244, -1.2973, 0.0697, -0.0074, 1.8969, 0.6878, -0.0779, -0.8373,
            1.3506, -0.2879, -0.5965, -0.3283, -0.9086, -0.8059, -0.7407, -0.0504, 0.5435, 1.5150,
            0.0141, 0.4532, 1.6349, 0.7124, -0.1806, 1.0252, -1.4622, -0.7554, -0.1836, 0.3824,
            0.3918, -0.0830, 0.8971, -1.1123, 0.1116, 0.4863, -0.5499, -0.3231, -0.5469, 0.9049,
            0.2837, 0.1210, 0.4730, -1.0823, -0.0334, -0.9734, 0.9559, -1.1795, -1.0064, 0.1160,
            0.6852, -0.4124, -0.6738, -0.5404, 0.6898, -1.5517, 0.3805, -0.0436, 0.3597, -0.5043,
        ]
        let bias: [Float] = [0.1808, -0.5523, 0.9238, -0.7350, 1.3800, 0.8676, 0.1297, -0.9406, 0.8109, 0.8821]
        let y: [Float] = [
            2.5441, -0.7163, -0.4934, 0.1267, 0.1014, -0.4035, 0.9023, 0.8099, -0.6884, 0.1372,
            1.0377, 0.0925, -0.3752, -0.0908, 2.0639, -1.8164, -0.2719, 0.2811, -1.0399, 0.7765,
            0.8814, 0.0444, -1.4870, 1.1334, 1.3268, -1.2616, 0.9501, -0.6558, 0.9098, -0.6290,
            -0.6587, 2.0811, 1.4151, -0.3091, -0.2055, 2.0562, -0.0490, -0.6361, -0.5359, -0.1310,
            -0.2945, 1.2275, 1.0549, 0.3576, 1.6378, -0.2310, 0.7883, -0.0807, -0.3924, 1.2673,
            1.0420, -0.4945, -1.1637, 1.5740, 0.7116, 0.6104, 1.2852, -0.6533, 1.1171, -1.0067,
            1.2912, 1.6028, 0.1332, 1.0703, -1.1161, -0.8396, -3.6680, 0.8189, 0.1255, -0.7691,
            0.1552, -0.8782, -0.4734, 0.9690, -1.9985, 0.1030, 0.8580, 0.7625, -1.2587, -0.8183,
        ]
        // The notebook's GPU (sm_75: a Turing card) is irrelevant here: 80 elements fit any GPU's first wave.
        var generator = TorchCUDAGenerator(seed: 0, device: try TorchCUDAGenerator.Device(multiprocessors: 40, maxThreadsPerMultiprocessor: 1024))
        for (name, printed) in [("x", x), ("bias", bias), ("y", y)] {
            let values = try generator.randn(count: printed.count)
            for (index, (value, expected)) in zip(values, printed).enumerated() {
                XCTAssertEqual(value, expected, accuracy: 0.5e-4 + 5e-6, "\(name)[\(index)]")
            }
        }
        XCTAssertEqual(generator.offset, 12, "each launch of <= 4 x threads elements advances the offset by 4")
    }

    /// ATen's launch: T = 256 x min(ceil(n / 256), multiprocessors x (threads per multiprocessor / 256))
    /// threads; thread t, pass k writes element t + 4Tk + T·i from the i-th normal of Philox counter
    /// (offset / 4 + k) of subsequence t, and the offset grows by 4 x ceil(n / 4T). Consequences checked
    /// here with a one-multiprocessor, 256-thread GPU (T = 256) against a large one (every element is the
    /// first normal of its own thread, pass 0):
    /// * element t + 4Tk (i = 0) of the small GPU's draw equals element t of the large GPU's draw made at
    ///   offset + 4k, and nothing else does;
    /// * a draw of 2600 elements takes ceil(2600 / 1024) = 3 passes: the small GPU's offset grows by 12,
    ///   the large one's by 4;
    /// * draws that fit a GPU's first wave agree on every GPU.
    func testCUDALaunchGeometryFollowsATensKernel() throws {
        let small = try TorchCUDAGenerator.Device(multiprocessors: 1, maxThreadsPerMultiprocessor: 256)
        let count = 2600, threads = 256
        var onSmall = TorchCUDAGenerator(seed: 7, device: small)
        let smallDraw = try onSmall.randn(count: count)
        XCTAssertEqual(onSmall.offset, 12)
        var onLargeAtOnce = TorchCUDAGenerator(seed: 7, device: .rtx4090)
        _ = try onLargeAtOnce.randn(count: count)
        XCTAssertEqual(onLargeAtOnce.offset, 4)

        for pass in 0..<3 {
            var onLarge = TorchCUDAGenerator(seed: 7, device: .rtx4090)
            for _ in 0..<pass { _ = try onLarge.randn(count: 1) }  // each launch advances the offset by 4
            XCTAssertEqual(onLarge.offset, UInt64(4 * pass))
            let firstWave = try onLarge.randn(count: threads)
            for thread in 0..<threads where pass * 4 * threads + thread < count {
                XCTAssertEqual(smallDraw[pass * 4 * threads + thread].bitPattern, firstWave[thread].bitPattern, "pass \(pass) thread \(thread)")
            }
            XCTAssertNotEqual(smallDraw[pass * 4 * threads + threads], firstWave[0], "i = 1 is another normal")
        }

        var onRTX4090 = TorchCUDAGenerator(seed: 3, device: .rtx4090)
        var onT4 = TorchCUDAGenerator(seed: 3, device: try TorchCUDAGenerator.Device(parsing: "t4"))
        let firstWaveOfT4 = 40 * 1024
        XCTAssertEqual(try onRTX4090.randn(count: firstWaveOfT4), try onT4.randn(count: firstWaveOfT4), "fits both GPUs")
        XCTAssertNotEqual(try onRTX4090.randn(count: firstWaveOfT4 + 256), try onT4.randn(count: firstWaveOfT4 + 256), "exceeds the T4")
    }

    func testCUDADeviceNamesAndErrors() throws {
        XCTAssertEqual(try TorchCUDAGenerator.Device(parsing: "A100"), try TorchCUDAGenerator.Device(multiprocessors: 108, maxThreadsPerMultiprocessor: 2048))
        XCTAssertEqual(try TorchCUDAGenerator.Device(parsing: "82x1536").description, "rtx3090")
        XCTAssertEqual(try TorchCUDAGenerator.Device(parsing: "100x1024").description, "100x1024")
        for bad in ["", "gtx", "0x1024", "10x100", "10x", "x10", "10x20x30", "99999999999999999999x1024"] {
            XCTAssertThrowsError(try TorchCUDAGenerator.Device(parsing: bad), bad) { error in
                XCTAssertTrue("\(error)".hasPrefix("invalid CUDA GPU"), "\(error)")
            }
        }
    }

    /// Sessions of one run share the stream: a second sequence continues where the first stopped.
    func testStreamContinuesAcrossCallsAndNativeHasNone() throws {
        XCTAssertNil(TorchNoiseStream(source: .native, seed: 42))
        let shared = try XCTUnwrap(TorchNoiseStream(source: .torchCUDA(.rtx4090), seed: 42))
        let first = try shared.nextLatents(count: 64), second = try shared.nextLatents(count: 64)
        var generator = TorchCUDAGenerator(seed: 42)
        XCTAssertEqual(first, try generator.randn(count: 64))
        XCTAssertEqual(second, try generator.randn(count: 64))
    }
}

private extension String {
    func leftPadded(to length: Int) -> String { String(repeating: "0", count: max(0, length - count)) + self }
}
