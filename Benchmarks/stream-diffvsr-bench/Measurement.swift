// Timing and memory readings shared by every benchmark of stream-diffvsr-bench.

import Foundation
import TensorEngine

/// Uniform values in [-1, 1) from a fixed linear congruential sequence (fast and reproducible), on `device`.
func randomTensor(_ shape: [Int], on device: Device) -> Tensor {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(shape.reduce(1, *))
    let values = (0..<shape.reduce(1, *)).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(state >> 40) / Float(1 << 23) - 1
    }
    return Tensor(shape: shape, scalars: values, on: device)
}

/// Seconds on `clock`: wall time, or with `--cpu-time` the process's CPU time divided by the thread
/// count (a machine shared with other jobs still gives the engine's own per-core throughput).
func now(_ clock: clockid_t) -> Double {
    var time = timespec()
    clock_gettime(clock, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// How a benchmark reads time: the wall clock, or (`--cpu-time`) process CPU time / threads. Each
/// timing waits for the device to finish the work `run` queued.
struct Stopwatch {
    var cpuTime: Bool
    var threads: Int
    var device: Device

    init(options: BenchmarkOptions) {
        cpuTime = options.cpuTime
        threads = options.threads ?? ProcessInfo.processInfo.activeProcessorCount
        device = options.device
    }

    var clock: clockid_t { cpuTime ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC }
    var divisor: Double { cpuTime ? Double(threads) : 1 }

    /// Seconds `run` takes on this stopwatch's clock.
    func time(_ run: () -> Void) -> Double {
        let begin = now(clock)
        run()
        try? device.synchronize()
        return (now(clock) - begin) / divisor
    }

    /// Best-of timing: at least `calls` calls and `seconds` of wall time after one warm-up call.
    func best(_ run: () -> Void, calls minimumCalls: Int = 3, seconds: Double = 0) -> Double {
        run()
        var best = Double.infinity
        var calls = 0
        let start = now(CLOCK_MONOTONIC)
        repeat {
            best = min(best, time(run))
            calls += 1
        } while calls < minimumCalls || now(CLOCK_MONOTONIC) - start < seconds
        return best
    }
}

/// Peak resident set size of this process so far, in MiB (Linux reports ru_maxrss in KiB, macOS in bytes).
func peakResidentMiB() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    #if os(macOS)
    return Double(usage.ru_maxrss) / 1_048_576
    #else
    return Double(usage.ru_maxrss) / 1024
    #endif
}

/// Current resident set size in MiB (from /proc/self/statm; nil where there is no procfs).
func currentResidentMiB() -> Double? {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
    let fields = statm.split(separator: " ")
    guard fields.count > 1, let pages = Double(fields[1]) else { return nil }
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
}

/// Starts the peak-RSS measurement anew, so that the frames' peak is not hidden by the load's (the CLIP
/// text encoder is loaded, used and released while the model loads). Linux only: writing 5 to
/// /proc/self/clear_refs resets VmHWM; false elsewhere.
@discardableResult
func resetPeakResident() -> Bool {
    guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
    defer { try? handle.close() }
    return (try? handle.write(contentsOf: Data("5".utf8))) != nil
}

/// The peak RSS since the last `resetPeakResident()` (VmHWM), in MiB; nil where /proc is unavailable.
func peakResidentSinceResetMiB() -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return nil }
    return kilobytes / 1024
}
