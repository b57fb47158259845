// PyTorch's CUDA generator (CUDAGeneratorImpl) and its `torch.randn` for float32 tensors, computed on the
// CPU from ATen's kernel (aten/src/ATen/native/cuda/DistributionTemplates.h) and cuRAND's Philox device API.
//
// A draw of n elements is one launch of a grid-stride kernel: 256 threads a block, ceil(n / 256) blocks but
// at most (multiprocessors x maxThreadsPerMultiprocessor / 256) of them, so T = 256 x blocks threads. Thread
// `t` runs curand_init(seed, subsequence: t, offset: the generator's offset), then calls curand_normal4
// once per pass: pass k fills elements t + 4Tk + T·i (i = 0..<4) with the i-th of its four normals. After
// the launch the generator's offset grows by 4 x passes, passes = ceil(n / 4T), so consecutive draws never
// reuse counters. curand_normal4 takes one Philox block (x, y, z, w): Box-Muller on (x, y) gives
// (sin·r, cos·r), then on (z, w).
//
// Limits. (1) While n <= 256 x maxBlocks every element is the first normal of its own thread, on any GPU;
// above that the stream depends on the GPU's multiprocessor count and threads per multiprocessor (see
// `Device`). (2) On the GPU the angle goes through __sincosf, the hardware approximation (about 2^-21.4
// absolute error), and logf through CUDA's libdevice; here they are the correctly rounded double sin/cos
// and the C library's logf, so values agree with a real GPU to a few units in the last place (~1e-6),
// not bit for bit. (3) Tensors of 2^31 elements or more, which ATen splits into several launches, are
// refused.

import Foundation

public struct TorchCUDAGenerator: Sendable {
    /// The two device properties the launch configuration reads (torch.cuda.get_device_properties(0):
    /// `multi_processor_count`, `max_threads_per_multi_processor`).
    public struct Device: Sendable, Equatable, CustomStringConvertible {
        public let multiprocessors: Int
        public let maxThreadsPerMultiprocessor: Int

        public init(multiprocessors: Int, maxThreadsPerMultiprocessor: Int) throws {
            guard (1...100_000).contains(multiprocessors), (256...100_000).contains(maxThreadsPerMultiprocessor) else {
                throw TorchNoiseError.invalidCUDADevice("\(multiprocessors) multiprocessors x \(maxThreadsPerMultiprocessor) threads " +
                    "(expected 1...100000 multiprocessors and 256...100000 threads per multiprocessor)")
            }
            self.init(multiprocessors, maxThreadsPerMultiprocessor)
        }

        private init(_ multiprocessors: Int, _ maxThreadsPerMultiprocessor: Int) {
            self.multiprocessors = multiprocessors
            self.maxThreadsPerMultiprocessor = maxThreadsPerMultiprocessor
        }

        /// The RTX 4090 the original's paper reports its timings on.
        public static let rtx4090 = Device(128, 1536)

        /// GPUs known by name (multiprocessors x max threads per multiprocessor, from NVIDIA's specifications).
        public static let knownGPUs: [(name: String, device: Device)] = [
            ("rtx4090", rtx4090), ("rtx3090", Device(82, 1536)), ("a100", Device(108, 2048)), ("h100", Device(132, 2048)),
            ("l4", Device(58, 1536)), ("t4", Device(40, 1024)), ("v100", Device(80, 2048)),
        ]

        /// A name of `knownGPUs` or `<multiprocessors>x<threads per multiprocessor>` (e.g. `108x2048`).
        public init(parsing text: String) throws {
            let lowered = text.lowercased()
            if let known = Self.knownGPUs.first(where: { $0.name == lowered }) {
                self = known.device
                return
            }
            let parts = lowered.split(separator: "x", omittingEmptySubsequences: false)
            guard parts.count == 2, let multiprocessors = Int(parts[0]), let threads = Int(parts[1]) else {
                throw TorchNoiseError.invalidCUDADevice("'\(text)' (expected one of \(Self.knownGPUs.map(\.name).joined(separator: ", ")) " +
                    "or <multiprocessors>x<threads per multiprocessor>, e.g. 108x2048)")
            }
            try self.init(multiprocessors: multiprocessors, maxThreadsPerMultiprocessor: threads)
        }

        /// Most blocks of 256 threads one launch gets on this GPU.
        var maxBlocks: Int { multiprocessors * (maxThreadsPerMultiprocessor / 256) }

        /// The GPU's name when it is a known one, else `<multiprocessors>x<threads>`.
        public var description: String {
            Self.knownGPUs.first { $0.device == self }?.name ?? "\(multiprocessors)x\(maxThreadsPerMultiprocessor)"
        }
    }

    public let seed: UInt64
    public let device: Device
    /// Philox offset of the next launch (`torch.cuda.get_rng_state()`'s second word): 0 after manual_seed.
    /// Philox values used so far (the generator's whole state besides the seed).
    public internal(set) var offset: UInt64 = 0

    /// cuRAND's float constants (curand_globals.h): 2^-32 and 2^-32 x 2pi, each rounded to float.
    private static let twoToMinus32: Float = 2.3283064e-10
    private static let twoToMinus32TimesTwoPi: Float = 2.3283064e-10 * 6.2831855

    /// The generator as `torch.manual_seed(seed)` leaves the CUDA device's default generator.
    public init(seed: UInt64, device: Device = .rtx4090) {
        self.seed = seed
        self.device = device
    }

    /// `torch.randn(count, device="cuda")` (any shape of that many elements), row-major.
    public mutating func randn(count: Int) throws -> [Float] {
        guard count < 1 << 31 else { throw TorchNoiseError.tooLarge(count: count) }
        guard count > 0 else { return [] }
        let threads = 256 * min(device.maxBlocks, (count + 255) / 256)
        let passes = (count - 1) / (4 * threads) + 1
        let firstCounter = offset / 4
        offset += UInt64(4 * passes)

        var values = [Float](repeating: 0, count: count)
        let key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        for pass in 0..<passes {
            let counter = firstCounter + UInt64(pass)
            for thread in 0..<threads {
                let first = pass * 4 * threads + thread
                guard first < count else { break }
                let words = Philox4x32.block(counter: (UInt32(truncatingIfNeeded: counter), UInt32(truncatingIfNeeded: counter >> 32),
                                                       UInt32(truncatingIfNeeded: thread), 0),
                                             key: key)
                let (sine, cosine) = Self.boxMuller(words.0, words.1)
                values[first] = sine + 0
                if first + threads < count { values[first + threads] = cosine + 0 }
                if first + 2 * threads < count {
                    let (sine, cosine) = Self.boxMuller(words.2, words.3)
                    values[first + 2 * threads] = sine + 0
                    if first + 3 * threads < count { values[first + 3 * threads] = cosine + 0 }
                }
            }
        }
        return values
    }

    /// cuRAND's `_curand_box_muller`: radius from the first word, angle from the second. nvcc fuses the
    /// multiply-adds that map the words into (0, 1] and (0, 2pi]; `+ 0` above is ATen's `* std + mean`.
    private static func boxMuller(_ radiusWord: UInt32, _ angleWord: UInt32) -> (sin: Float, cos: Float) {
        let uniform = (twoToMinus32 / 2).addingProduct(Float(radiusWord), twoToMinus32)
        let angle = (twoToMinus32TimesTwoPi / 2).addingProduct(Float(angleWord), twoToMinus32TimesTwoPi)
        let radius = (-2 * logf(uniform)).squareRoot()
        return (Float(Foundation.sin(Double(angle))) * radius, Float(Foundation.cos(Double(angle))) * radius)
    }
}
