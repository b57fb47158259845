// Engine throughput benchmark: GFLOP/s of the hot operations at the shapes the Stream-DiffVSR UNet,
// ControlNet and decoder run at 720p. Prints one tab-separated line per shape (name, GFLOP/s,
// milliseconds per call) so Benchmarks/run.sh can join it with the PyTorch numbers of
// Benchmarks/pytorch_reference.py.

import Foundation
import TensorEngine

struct Case {
    let name: String
    let flops: Double
    let prepare: (Device) -> () -> Void
}

func gemmCase(_ m: Int, _ n: Int, _ k: Int) -> Case {
    Case(name: "sgemm \(m)x\(n)x\(k)", flops: 2 * Double(m * n * k)) { device in
        let a = randomTensor([m, k], on: device), b = randomTensor([k, n], on: device)
        return { _ = matmul(a, b) }
    }
}

func convolutionCase(_ inChannels: Int, _ outChannels: Int, height: Int, width: Int) -> Case {
    Case(name: "conv3x3 \(inChannels)->\(outChannels) \(height)x\(width)",
         flops: 2 * Double(outChannels * inChannels * 9 * height * width)) { device in
        let x = randomTensor([1, inChannels, height, width], on: device)
        let weight = randomTensor([outChannels, inChannels, 3, 3], on: device), bias = randomTensor([outChannels], on: device)
        return { _ = conv2d(x, weight: weight, bias: bias, stride: (1, 1), padding: (1, 1)) }
    }
}

/// `nn.Linear` on `tokens` rows with the weight in the checkpoint's [out, in] layout (read in place
/// from a mapped fp32 checkpoint): the UNet's feed-forward at an 8x8 latent has 64 tokens.
func linearCase(tokens: Int, inFeatures: Int, outFeatures: Int) -> Case {
    Case(name: "linear \(tokens)x\(inFeatures)->\(outFeatures)", flops: 2 * Double(tokens * inFeatures * outFeatures)) { device in
        let x = randomTensor([tokens, inFeatures], on: device)
        let weight = randomTensor([outFeatures, inFeatures], on: device), bias = randomTensor([outFeatures], on: device)
        return { _ = linear(x, weight: weight, bias: bias) }
    }
}

func attentionCase(tokens: Int, channels: Int, heads: Int) -> Case {
    // QKᵀ and P·V; the softmax is not counted.
    Case(name: "attention \(tokens)x\(channels) \(heads) heads", flops: 4 * Double(tokens * tokens * channels)) { device in
        let q = randomTensor([1, tokens, channels], on: device), k = randomTensor([1, tokens, channels], on: device)
        let v = randomTensor([1, tokens, channels], on: device)
        return { _ = multiHeadAttention(query: q, key: k, value: v, heads: heads) }
    }
}

/// Core clock estimate from a dependent chain of float adds (3-cycle latency on Zen 4;
/// `--add-latency` overrides), for the theoretical-peak line.
func estimatedClockGHz(addLatency: Double) -> Double {
    var accumulator: Float = 0
    let additions = 200_000_000
    let begin = now(CLOCK_THREAD_CPUTIME_ID)
    for _ in 0..<additions { accumulator += 1e-9 }
    let seconds = now(CLOCK_THREAD_CPUTIME_ID) - begin
    if accumulator < 0 { print(accumulator) }
    return Double(additions) * addLatency / seconds / 1e9
}

func runEngineBenchmark(options: BenchmarkOptions) {
    let cases = [
        gemmCase(1024, 1024, 1024),
        gemmCase(4096, 4096, 1024),
        convolutionCase(256, 256, height: 180, width: 320),
        convolutionCase(512, 512, height: 90, width: 160),
        convolutionCase(64, 64, height: 720, width: 1280),
        convolutionCase(1024, 1024, height: 23, width: 40),
        convolutionCase(256, 256, height: 64, width: 64),
        convolutionCase(1024, 1024, height: 8, width: 8),
        convolutionCase(2048, 1024, height: 8, width: 8),
        convolutionCase(512, 512, height: 16, width: 16),
        convolutionCase(512, 512, height: 32, width: 32),
        attentionCase(tokens: 920, channels: 1024, heads: 8),
        linearCase(tokens: 64, inFeatures: 1280, outFeatures: 10240),
        linearCase(tokens: 920, inFeatures: 1024, outFeatures: 1024),
    ]

    let clock = estimatedClockGHz(addLatency: options.addLatency)
    let threads = Double(options.threads ?? ProcessInfo.processInfo.activeProcessorCount)
    print("# \(options.device.info.name): \(options.device.info.driver), clock ~\(String(format: "%.2f", clock)) GHz")
    // Peak = threads x FMA lanes per cycle x 2 flops x clock. Zen 4 and AVX2-only parts retire 16 fp32
    // FMA lanes per cycle (two 256-bit pipes; AVX-512 is double-pumped), Xeons with two 512-bit FMA units 32.
    print("# theoretical fp32 peak: \(String(format: "%.0f", threads * 16 * 2 * clock)) GFLOP/s at 16 FMA lanes/cycle/core (Zen 4, AVX2),"
          + " \(String(format: "%.0f", threads * 32 * 2 * clock)) at 32 (two 512-bit FMA units)")
    for testCase in cases where options.filters.isEmpty || options.filters.contains(where: { testCase.name.contains($0) }) {
        let run = testCase.prepare(options.device)
        let best = Stopwatch(options: options).best(run, seconds: options.seconds)
        print("\(testCase.name)\t\(String(format: "%.1f", testCase.flops / best / 1e9))\t\(String(format: "%.2f", best * 1e3))")
    }
}
