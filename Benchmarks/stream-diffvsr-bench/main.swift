// Engine throughput benchmark: GFLOP/s of the hot operations at the shapes the Stream-DiffVSR UNet,
// ControlNet and decoder run at 720p. Prints one tab-separated line per shape (name, GFLOP/s,
// milliseconds per call) so Benchmarks/run.sh can join it with the PyTorch numbers of
// Benchmarks/pytorch_reference.py. Usage: stream-diffvsr-bench [--seconds S] [--threads N] [--cpu-time] [name...]

import Foundation
import TensorEngine

struct Case {
    let name: String
    let flops: Double
    let prepare: () -> () -> Void
}

/// Uniform values in [-1, 1) from a fixed linear congruential sequence (fast and reproducible).
func randomTensor(_ shape: [Int]) -> Tensor {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(shape.reduce(1, *))
    let tensor = Tensor(uninitializedShape: shape)
    for index in 0..<tensor.count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        tensor.data[index] = Float(state >> 40) / Float(1 << 23) - 1
    }
    return tensor
}

func gemmCase(_ m: Int, _ n: Int, _ k: Int) -> Case {
    Case(name: "sgemm \(m)x\(n)x\(k)", flops: 2 * Double(m * n * k)) {
        let a = randomTensor([m, k]), b = randomTensor([k, n]), c = Tensor(uninitializedShape: [m, n])
        return { sgemm(m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: n, c: c.data, ldc: n) }
    }
}

func convolutionCase(_ inChannels: Int, _ outChannels: Int, height: Int, width: Int) -> Case {
    Case(name: "conv3x3 \(inChannels)->\(outChannels) \(height)x\(width)",
         flops: 2 * Double(outChannels * inChannels * 9 * height * width)) {
        let x = randomTensor([1, inChannels, height, width])
        let weight = randomTensor([outChannels, inChannels, 3, 3]), bias = randomTensor([outChannels])
        return { _ = conv2d(x, weight: weight, bias: bias, stride: (1, 1), padding: (1, 1)) }
    }
}

func attentionCase(tokens: Int, channels: Int, heads: Int) -> Case {
    // QKᵀ and P·V; the softmax is not counted.
    Case(name: "attention \(tokens)x\(channels) \(heads) heads", flops: 4 * Double(tokens * tokens * channels)) {
        let q = randomTensor([1, tokens, channels]), k = randomTensor([1, tokens, channels])
        let v = randomTensor([1, tokens, channels])
        return { _ = multiHeadAttention(query: q, key: k, value: v, heads: heads) }
    }
}

/// Seconds on `clock`: wall time, or with `--cpu-time` the process's CPU time divided by the thread
/// count (a machine shared with other jobs still gives the engine's own per-core throughput).
func now(_ clock: clockid_t) -> Double {
    var time = timespec()
    clock_gettime(clock, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Best-of timing: at least 3 calls and `seconds` of wall time after one warm-up call.
func measure(_ run: () -> Void, seconds: Double, clock: clockid_t, divisor: Double) -> Double {
    run()
    var best = Double.infinity
    var calls = 0
    let start = now(CLOCK_MONOTONIC)
    repeat {
        let begin = now(clock)
        run()
        best = min(best, (now(clock) - begin) / divisor)
        calls += 1
    } while calls < 3 || now(CLOCK_MONOTONIC) - start < seconds
    return best
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

var seconds = 2.0
var addLatency = 3.0
var cpuTime = false
var selected: [String] = []
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--seconds": seconds = Double(arguments.next() ?? "") ?? seconds
    case "--threads": Parallel.threadCount = Int(arguments.next() ?? "") ?? Parallel.threadCount
    case "--cpu-time": cpuTime = true
    case "--add-latency": addLatency = Double(arguments.next() ?? "") ?? addLatency
    default: selected.append(argument)
    }
}

let cases = [
    gemmCase(1024, 1024, 1024),
    gemmCase(4096, 4096, 1024),
    convolutionCase(256, 256, height: 180, width: 320),
    convolutionCase(512, 512, height: 90, width: 160),
    convolutionCase(64, 64, height: 720, width: 1280),
    convolutionCase(1024, 1024, height: 23, width: 40),
    attentionCase(tokens: 920, channels: 1024, heads: 8),
]

let clock = estimatedClockGHz(addLatency: addLatency)
let threads = Double(Parallel.threadCount)
print("# kernels \(KernelSet.active.rawValue), \(Parallel.threadCount) threads, clock ~\(String(format: "%.2f", clock)) GHz")
// Peak = threads x FMA lanes per cycle x 2 flops x clock. Zen 4 and AVX2-only parts retire 16 fp32
// FMA lanes per cycle (two 256-bit pipes; AVX-512 is double-pumped), Xeons with two 512-bit FMA units 32.
print("# theoretical fp32 peak: \(String(format: "%.0f", threads * 16 * 2 * clock)) GFLOP/s at 16 FMA lanes/cycle/core (Zen 4, AVX2),"
      + " \(String(format: "%.0f", threads * 32 * 2 * clock)) at 32 (two 512-bit FMA units)")
for testCase in cases where selected.isEmpty || selected.contains(where: { testCase.name.contains($0) }) {
    let run = testCase.prepare()
    let best = cpuTime ? measure(run, seconds: seconds, clock: CLOCK_PROCESS_CPUTIME_ID, divisor: Double(Parallel.threadCount))
                       : measure(run, seconds: seconds, clock: CLOCK_MONOTONIC, divisor: 1)
    print("\(testCase.name)\t\(String(format: "%.1f", testCase.flops / best / 1e9))\t\(String(format: "%.2f", best * 1e3))")
}
