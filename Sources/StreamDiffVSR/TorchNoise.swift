// The original's initial latents from its seed. inference.py, between `set_seed(42)` and its first latent:
//
// 1. `set_seed(42)` (accelerate) seeds torch's CPU generator (MT19937) and every CUDA generator (Philox,
//    seed 42, offset 0).
// 2. ControlNet, UNet, temporal VAE, scheduler and the pipeline (text encoder, tokenizer) come from
//    `from_pretrained`: diffusers builds on the meta device and transformers skips initialisation, so
//    nothing is drawn.
// 3. `raft_large(weights=DEFAULT)` builds torchvision's RAFT on the CPU, and building initialises every
//    layer from the CPU generator before the pretrained weights overwrite them: 7,384,960 MT19937 words,
//    no spare normal left behind (torch 2.5.1, torchvision 0.20.1; tools/fixtures/gen_torch_noise.py
//    measures it from the generator state).
// 4. Each call of the pipeline takes one sequence (a folder) and draws `randn([1, 4, h, w])` on its device,
//    one call per frame, for all its frames before denoising the first; nothing else draws (DDIM with
//    eta 0, networks in eval mode). The next sequence continues the same generator.
//
// So on CUDA, where inference.py runs, the first latent comes from offset 0 (step 3 used the CPU
// generator); a CPU run of the same script starts after the RAFT words.
//
// Streaming: each frame's latent is its own randn call and nothing draws between them, so drawing frame by
// frame as frames arrive gives exactly the original's all-frames-first latents, with or without a known
// frame count. Only where a later sequence starts depends on the earlier ones (their frame counts and
// sizes): the sequences of one run share one `TorchNoiseStream` and are processed in order.

import Foundation

public enum TorchNoiseError: Error, CustomStringConvertible {
    case invalidCUDADevice(String)
    case tooLarge(count: Int)

    public var description: String {
        switch self {
        case .invalidCUDADevice(let reason):
            return "invalid CUDA GPU \(reason)"
        case .tooLarge(let count):
            return "initial noise of \(count) elements is too large for torch's CUDA kernel (at most 2^31 - 1)"
        }
    }
}

/// How a session draws its initial latents when none are injected.
public enum NoiseSource: Sendable, Equatable, CustomStringConvertible {
    /// This port's own generator: frame i of a stream gets the same noise for the same seed, whatever ran before.
    case native
    /// torch's CPU generator as a CPU run of the original's inference.py uses it (bit-exact for that kernel).
    case torchCPU(TorchCPUGenerator.Kernel)
    /// torch's CUDA generator as the original's inference.py uses it on a GPU of this shape (to ~1e-6).
    case torchCUDA(TorchCUDAGenerator.Device)

    public var description: String {
        switch self {
        case .native: "native"
        case .torchCPU(let kernel): kernel == .avx2 ? "torch-cpu" : "torch-cpu-generic"
        case .torchCUDA(let device): "torch-cuda (\(device))"
        }
    }
}

/// torch's global generator through one run of the original's inference.py, from `set_seed(seed)` on:
/// each call returns the next frame's latents in the order the original draws them. Thread-safe.
public final class TorchNoiseStream: @unchecked Sendable {
    /// MT19937 words that building torchvision's `raft_large` draws from the CPU generator (step 3 above).
    public static let raftLargeInitialisationWords = 7_384_960

    private enum Generator {
        case cpu(TorchCPUGenerator)
        case cuda(TorchCUDAGenerator)
    }

    private var generator: Generator
    private let lock = NSLock()

    /// The generator as the original's first latent finds it; nil for `.native`.
    public init?(source: NoiseSource, seed: UInt64) {
        switch source {
        case .native:
            return nil
        case .torchCPU(let kernel):
            var cpu = TorchCPUGenerator(seed: seed, kernel: kernel)
            cpu.skip(words: Self.raftLargeInitialisationWords)
            generator = .cpu(cpu)
        case .torchCUDA(let device):
            generator = .cuda(TorchCUDAGenerator(seed: seed, device: device))
        }
    }

    /// The generator's position, for resuming a run (SessionCheckpoint.swift).
    public var state: TorchNoiseState {
        lock.lock()
        defer { lock.unlock() }
        switch generator {
        case .cpu(let cpu):
            let snapshot = cpu.snapshot
            return TorchNoiseState(source: "torch-cpu \(cpu.kernel.rawValue)", words: snapshot.words, position: snapshot.position,
                                   spareNormal: snapshot.spareNormal, offset: nil)
        case .cuda(let cuda):
            return TorchNoiseState(source: "torch-cuda \(cuda.device)", words: nil, position: nil, spareNormal: nil, offset: cuda.offset)
        }
    }

    /// Continues from a saved position of a generator of the same kind.
    public func restore(_ saved: TorchNoiseState) throws {
        lock.lock()
        defer { lock.unlock() }
        switch generator {
        case .cpu(let cpu):
            guard saved.source == "torch-cpu \(cpu.kernel.rawValue)", let words = saved.words, let position = saved.position,
                  let restored = TorchCPUGenerator(kernel: cpu.kernel, words: words, position: position, spareNormal: saved.spareNormal) else {
                throw SessionCheckpointError.otherOptions(option: "--noise", saved: saved.source, current: "torch-cpu \(cpu.kernel.rawValue)")
            }
            generator = .cpu(restored)
        case .cuda(var cuda):
            guard saved.source == "torch-cuda \(cuda.device)", let offset = saved.offset, offset % 4 == 0 else {
                throw SessionCheckpointError.otherOptions(option: "--noise", saved: saved.source, current: "torch-cuda \(cuda.device)")
            }
            cuda.offset = offset
            generator = .cuda(cuda)
        }
    }

    /// The next frame's standard normal latents (`count` = channels x height x width), row-major.
    public func nextLatents(count: Int) throws -> [Float] {
        lock.lock()
        defer { lock.unlock() }
        switch generator {
        case .cpu(var cpu):
            let values = cpu.randn(count: count)
            generator = .cpu(cpu)
            return values
        case .cuda(var cuda):
            let values = try cuda.randn(count: count)
            generator = .cuda(cuda)
            return values
        }
    }
}

/// Where a torch generator stands: MT19937's words, position and cached normal (CPU), or the Philox
/// offset (CUDA), with the kind of generator it belongs to.
public struct TorchNoiseState: Codable, Equatable, Sendable {
    let source: String
    let words: [UInt32]?
    let position: Int?
    let spareNormal: Double?
    let offset: UInt64?
}
