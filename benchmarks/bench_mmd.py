"""MMD^2 speed and memory, printed as ratios side by side.

1. Speed: for n = m = 4096, d = 784, float32, the time of
   ``mmd2(x, y, sigma, estimator="unbiased")`` against the time of the three
   matrix products it cannot avoid (x x^T, y y^T, x y^T). Target: <= 1.5x.
2. Memory: peak resident memory of ``mmd2(..., block_size=B)`` for growing n
   (each size in a fresh process), against the n^2 matrices a full evaluation
   would need. Target: bounded by the block size, not by n^2.

Usage: python benchmarks/bench_mmd.py [--repeats 5] [--sizes 15000 30000 60000] [--block-size 2048] [--dim 32]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _best_time(fn, repeats):
    fn()  # warm-up (graph building, thread pools)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), sorted(times)[len(times) // 2]


def speed(repeats: int) -> None:
    import numpy as np
    from keras import ops

    from kgan_utils.mmd import mmd2

    rng = np.random.default_rng(0)
    n, d = 4096, 784
    x = ops.convert_to_tensor(rng.random((n, d), dtype=np.float32))
    y = ops.convert_to_tensor(rng.random((n, d), dtype=np.float32))
    sigma = 10.0

    def three_products():
        for a, b in ((x, x), (y, y), (x, y)):
            ops.convert_to_numpy(ops.sum(ops.matmul(a, ops.transpose(b))[:1, :1]))

    def mmd_call():
        float(mmd2(x, y, sigma=sigma, estimator="unbiased"))

    t_mm, t_mm_med = _best_time(three_products, repeats)
    t_mmd, t_mmd_med = _best_time(mmd_call, repeats)
    print(
        f"[speed] n = m = {n}, d = {d}, float32, {os.cpu_count()} CPU cores, "
        f"{platform.processor() or platform.machine()}"
    )
    print(f"  three matrix products : best {t_mm:.3f} s   median {t_mm_med:.3f} s")
    print(f"  mmd2 unbiased         : best {t_mmd:.3f} s   median {t_mmd_med:.3f} s")
    print(
        f"  ratio mmd2 / products : {t_mmd / t_mm:.2f}x (best)  {t_mmd_med / t_mm_med:.2f}x (median)   target <= 1.5x"
    )


def _rss_kib(field: str) -> int:
    """VmRSS (current) or VmHWM (peak since the last reset) of this process, in KiB (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def _memory_child(n: int, d: int, block: int) -> None:
    """Run one mmd2 in this process; block <= 0 means no blocks (full matrices)."""
    import numpy as np

    from kgan_utils.mmd import mmd2

    rng = np.random.default_rng(0)
    x = rng.random((n, d), dtype=np.float32)
    y = rng.random((n, d), dtype=np.float32) + 0.01
    bs = block if block > 0 else None
    mmd2(x[:64], y[:64], sigma=1.0, block_size=bs)  # load the libraries before the baseline
    _reset_peak()
    base = _rss_kib("VmRSS")
    t0 = time.perf_counter()
    value = float(mmd2(x, y, sigma=1.0, estimator="unbiased", block_size=bs))
    secs = time.perf_counter() - t0
    peak = _rss_kib("VmHWM")
    print(json.dumps({"n": n, "base_kib": base, "peak_kib": peak, "secs": secs, "mmd2": value}))


def memory(sizes, d: int, block: int) -> None:
    print(f"[memory] unbiased mmd2, d = {d}, float32; one fresh process per run; RSS = resident memory")
    tile_mib = block * block * 4 / 2**20
    print(f"  one kernel tile: {block} x {block} float32 = {tile_mib:.0f} MiB")
    print(
        f"  {'mode':>12} {'n = m':>7} {'3 full n^2 matrices':>20} {'RSS before':>11} {'peak RSS':>10} "
        f"{'growth':>9} {'time':>7}"
    )
    runs = [(sizes[0], 0)] + [(n, block) for n in sizes]
    for n, b in runs:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), str(d), str(b)], capture_output=True, text=True, check=True
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        growth = (r["peak_kib"] - r["base_kib"]) / 1024
        mode = f"block {b}" if b else "full"
        print(
            f"  {mode:>12} {n:>7} {3 * n * n * 4 / 2**30:>16.1f} GiB {r['base_kib'] / 1024:>7.0f} MiB "
            f"{r['peak_kib'] / 1024:>6.0f} MiB {growth:>5.0f} MiB {r['secs']:>6.1f}s"
        )
    print("  target: in block mode the growth stays at a few tiles whatever n (not n^2)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _memory_child(*map(int, sys.argv[2:5]))
        sys.exit(0)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--sizes", type=int, nargs="+", default=[15000, 30000, 60000])
    p.add_argument("--block-size", type=int, default=2048)
    p.add_argument("--dim", type=int, default=32, help="feature dimension for the memory part (time grows with it)")
    p.add_argument("--skip-memory", action="store_true")
    a = p.parse_args()
    speed(a.repeats)
    if not a.skip_memory:
        memory(a.sizes, a.dim, a.block_size)
