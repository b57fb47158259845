"""PyTorch CPU (fp32) throughput at the shapes of stream-diffvsr-bench, printed in the same
tab-separated format (name, GFLOP/s, milliseconds per call) so Benchmarks/run.sh can put them side by
side. Usage: python pytorch_reference.py [--seconds S] [--threads N] [--cpu-time] [name...]"""
import argparse
import time

import torch
import torch.nn.functional as F


def gemm_case(m, n, k):
    a, b = torch.rand(m, k) * 2 - 1, torch.rand(k, n) * 2 - 1
    out = torch.empty(m, n)
    return f"sgemm {m}x{n}x{k}", 2.0 * m * n * k, lambda: torch.mm(a, b, out=out)


def conv_case(cin, cout, height, width):
    x = torch.rand(1, cin, height, width) * 2 - 1
    weight, bias = torch.rand(cout, cin, 3, 3) * 2 - 1, torch.rand(cout) * 2 - 1
    return (f"conv3x3 {cin}->{cout} {height}x{width}", 2.0 * cout * cin * 9 * height * width,
            lambda: F.conv2d(x, weight, bias, padding=1))


def attention_case(tokens, channels, heads):
    # Same layout as the Swift op ([B, L, C] in and out, heads split inside), as diffusers runs it.
    q, k, v = (torch.rand(1, tokens, channels) * 2 - 1 for _ in range(3))

    def run():
        split = [t.view(1, tokens, heads, channels // heads).transpose(1, 2) for t in (q, k, v)]
        out = F.scaled_dot_product_attention(*split)
        return out.transpose(1, 2).reshape(1, tokens, channels)

    return f"attention {tokens}x{channels} {heads} heads", 4.0 * tokens * tokens * channels, run


def measure(run, seconds, clock, divisor):
    run()
    best, calls, start = float("inf"), 0, time.monotonic()
    while calls < 3 or time.monotonic() - start < seconds:
        begin = clock()
        run()
        best = min(best, (clock() - begin) / divisor)
        calls += 1
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--cpu-time", action="store_true")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = [gemm_case(1024, 1024, 1024), gemm_case(4096, 4096, 1024),
             conv_case(256, 256, 180, 320), conv_case(512, 512, 90, 160),
             conv_case(64, 64, 720, 1280), conv_case(1024, 1024, 23, 40),
             conv_case(256, 256, 64, 64), conv_case(1024, 1024, 8, 8), conv_case(2048, 1024, 8, 8),
             conv_case(512, 512, 16, 16), conv_case(512, 512, 32, 32),
             attention_case(920, 1024, 8)]
    print(f"# torch {torch.__version__}, {args.threads} threads, mkldnn {torch.backends.mkldnn.is_available()}")
    with torch.no_grad():
        for name, flops, run in cases:
            if args.names and not any(part in name for part in args.names):
                continue
            best = (measure(run, args.seconds, time.process_time, args.threads) if args.cpu_time
                    else measure(run, args.seconds, time.perf_counter, 1))
            print(f"{name}\t{flops / best / 1e9:.1f}\t{best * 1e3:.2f}")


if __name__ == "__main__":
    main()
