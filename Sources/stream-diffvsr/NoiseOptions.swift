import ArgumentParser
import StreamDiffVSR

/// `--noise` and `--cuda-gpu`, shared by `upscale` and `serve`.
struct NoiseOptions: ParsableArguments {
    enum Choice: String, CaseIterable, ExpressibleByArgument {
        case torchCUDA = "torch-cuda"
        case torchCPU = "torch-cpu"
        case torchCPUGeneric = "torch-cpu-generic"
        case native
    }

    @Option(help: ArgumentHelp(
        "Generator of the initial noise.",
        discussion: """
        torch-cuda (default) draws the latents the original inference.py draws from the same --seed on its \
        CUDA GPU (to ~1e-6: the GPU's fast sine is approximated); torch-cpu the ones a CPU run of it draws on \
        x86-64 (bit-exact), torch-cpu-generic the same on ARM or without AVX2. Sequences of a folder continue one \
        generator in order, as in the original. native is this port's own generator: a frame's noise depends \
        only on the seed and its index in its sequence.
        """))
    var noise: Choice = .torchCUDA

    @Option(name: .customLong("cuda-gpu"), help: ArgumentHelp(
        "GPU whose launch geometry torch-cuda follows: \(TorchCUDAGenerator.Device.knownGPUs.map(\.name).joined(separator: ", ")) " +
            "or <multiprocessors>x<threads per multiprocessor> (default: rtx4090).",
        discussion: """
        Only latents of more than 256 x the GPU's resident blocks (196608 values = 4 x 49152 LR pixels on an RTX \
        4090) depend on it. Read yours in Python: torch.cuda.get_device_properties(0).multi_processor_count and \
        .max_threads_per_multi_processor.
        """),
        transform: { try TorchCUDAGenerator.Device(parsing: $0) })
    var cudaGPU: TorchCUDAGenerator.Device = .rtx4090

    var source: NoiseSource {
        switch noise {
        case .native: return .native
        case .torchCPU: return .torchCPU(.avx2)
        case .torchCPUGeneric: return .torchCPU(.generic)
        case .torchCUDA: return .torchCUDA(cudaGPU)
        }
    }
}
