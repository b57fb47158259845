// PyTorch's default CPU generator (CPUGeneratorImpl) and its `torch.randn` for float32 tensors, bit for
// bit: MT19937 words turned into normals the way ATen's normal kernel does (aten/src/ATen/native/cpu/
// DistributionTemplates.h, DistributionsHelper.h, TransformationHelper.h).
//
// * 16 elements or more: every element first gets a uniform u = (word & 0xFFFFFF) / 2^24, then each block of
//   16 becomes 16 normals by Box-Muller, pairing element j with j + 8 (radius from 1 - u[j], angle from
//   u[j + 8]; cosine to j, sine to j + 8). When the count is not a multiple of 16, the last 16 elements are
//   drawn again from 16 fresh words and transformed once more: that overwrites up to 15 finished normals.
// * Fewer than 16: one double-precision Box-Muller per element from two 53-bit uniforms (two words each),
//   whose second normal (the sine) is cached in the generator and returned by the next such draw, even one
//   made by a later call.
//
// The float Box-Muller's log/sin/cos depend on the build: x86-64 wheels on AVX2 (and AVX-512) machines use
// avx_mathfun's polynomials (TorchAVX2Math); the generic kernel (ARM, x86 without AVX2) calls the C
// library's logf/cosf/sinf, which this matches where the C library is the same (glibc).

import Foundation

public struct TorchCPUGenerator: Sendable {
    /// Which of ATen's float normal kernels to follow.
    public enum Kernel: String, Sendable, CaseIterable {
        /// x86-64 PyTorch on an AVX2 or AVX-512 CPU.
        case avx2
        /// PyTorch's generic kernel: ARM (Apple silicon, aarch64 Linux) and x86 without AVX2.
        case generic
    }

    public let kernel: Kernel
    private var engine: MersenneTwister
    private var spareNormal: Double?

    /// The generator as `torch.manual_seed(seed)` leaves it.
    public init(seed: UInt64, kernel: Kernel = .avx2) {
        self.kernel = kernel
        engine = MersenneTwister(seed: seed)
    }

    /// The engine's state and the cached second normal of the double-precision path.
    var snapshot: (words: [UInt32], position: Int, spareNormal: Double?) {
        let engine = engine.snapshot
        return (engine.words, engine.position, spareNormal)
    }

    /// The generator as `snapshot` recorded it (nil when the snapshot is malformed).
    init?(kernel: Kernel, words: [UInt32], position: Int, spareNormal: Double?) {
        guard let engine = MersenneTwister(snapshot: words, position: position) else { return nil }
        self.kernel = kernel
        self.engine = engine
        self.spareNormal = spareNormal
    }

    /// Advances the engine by `words` 32-bit outputs, as drawing that many would.
    public mutating func skip(words: Int) {
        engine.skip(words)
    }

    /// `torch.randn(count)` (any shape of that many elements): standard normal float32 values, row-major.
    public mutating func randn(count: Int) -> [Float] {
        precondition(count >= 0, "randn of a negative count")
        guard count >= 16 else { return (0..<count).map { _ in Float(nextDoubleNormal()) } }
        var values = (0..<count).map { _ in nextFloatUniform() }
        values.withUnsafeMutableBufferPointer { buffer in
            for start in stride(from: 0, through: count - 16, by: 16) {
                boxMuller16(buffer, start)
            }
            if count % 16 != 0 {
                for index in (count - 16)..<count {
                    buffer[index] = nextFloatUniform()
                }
                boxMuller16(buffer, count - 16)
            }
        }
        return values
    }

    /// `uniform_real_distribution<float>(0, 1)`: the low 24 bits of one word, times 2^-24.
    private mutating func nextFloatUniform() -> Float {
        Float(engine.next() & 0xFF_FFFF) * 0x1p-24
    }

    /// `uniform_real_distribution<double>(0, 1)`: the low 53 bits of two words (first word high), times 2^-53.
    private mutating func nextDoubleUniform() -> Double {
        let high = UInt64(engine.next()), low = UInt64(engine.next())
        return Double(((high << 32) | low) & ((1 << 53) - 1)) * 0x1p-53
    }

    /// `normal_distribution<double>(0, 1)`, which keeps its second value for the next call.
    private mutating func nextDoubleNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare * 1 + 0
        }
        let angleUniform = nextDoubleUniform(), radiusUniform = nextDoubleUniform()
        let radius = (-2 * Foundation.log1p(-radiusUniform)).squareRoot()
        let angle = 2 * Double.pi * angleUniform
        spareNormal = radius * Foundation.sin(angle)
        // `* std + mean` with std 1 and mean 0 leaves the value but turns -0 into +0.
        return radius * Foundation.cos(angle) * 1 + 0
    }

    /// ATen's `normal_fill_16`: elements start..<start+8 and start+8..<start+16 pair up.
    private func boxMuller16(_ values: UnsafeMutableBufferPointer<Float>, _ start: Int) {
        for lane in start..<(start + 8) {
            let radiusUniform = 1 - values[lane], angleUniform = values[lane + 8]
            let radius: Float, cosine: Float, sine: Float
            switch kernel {
            case .avx2:
                radius = (-2 * TorchAVX2Math.log(radiusUniform)).squareRoot()
                (sine, cosine) = TorchAVX2Math.sincos(Float(2 * Double.pi) * angleUniform)
            case .generic:
                radius = (-2 * logf(radiusUniform)).squareRoot()
                // The generic kernel forms the angle in double and rounds it once to float.
                let angle = Float(2 * Double.pi * Double(angleUniform))
                (sine, cosine) = (sinf(angle), cosf(angle))
            }
            values[lane] = radius * cosine + 0
            values[lane + 8] = radius * sine + 0
        }
    }
}
