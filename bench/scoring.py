"""Cost of the chain's bit-exact scoring, as a ratio to torch float32 inference of the same model.

For each model, every round times, on the same samples and in an interleaved order:
  torch-f32   net(X) in float32 + argmax + cross-entropy: ordinary inference (the baseline)
  exact       chain.scoring.kernel.score: integer forward pass (float64 BLAS under the exactness rule,
              exact limbs otherwise), requantization, integer accuracy and loss; numpy backend
  exact-1t    exact with numpy's BLAS limited to one thread (threadpoolctl): small matrices lose more
              to thread wake-ups than they gain; the result is the same bits at any thread count
  exact-torch backend="torch": large products on the exact int8 GEMM (torch._int_mm, chain/scoring/int8.py),
              the rest on torch float64 matmuls; must give the same bits
Ratios are medians of per-round ratios. The run also prints which matmul path each layer took and
checks the two exact backends agree bit for bit. The last two lines are the headline ratios, each for the
configuration a validator would run for that size: one BLAS thread for the small model (thread wake-ups
cost more than they gain there), the torch backend for the large one; bits are the same in every row.

    .venv/bin/python bench/scoring.py            # small 64-128-64-10 x 1,000; large 784-1024-1024-10 x 10,000
    .venv/bin/python bench/scoring.py --quick    # fewer rounds, large model on 2,000 samples
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Idle OpenMP threads of torch otherwise spin for a while after each call and steal the CPUs the next
# (numpy) measurement needs; sleeping idle threads make interleaved timings fair to both sides.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from chain.scoring.kernel import forward, score  # noqa: E402
from client.model import quantize_inputs, to_chain  # noqa: E402


def build(sizes: list[int], samples: int, seed: int):
    torch.manual_seed(seed)
    mods = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        mods.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*mods).eval()
    rng = np.random.default_rng(seed)
    X = rng.random((samples, sizes[0]), dtype=np.float32)  # like normalised pixels in [0, 1)
    y = rng.integers(0, sizes[-1], samples)
    return net, X, y


def time_torch_f32(net, Xt, yt) -> float:
    t0 = time.perf_counter()
    with torch.no_grad():
        logits = net(Xt)
        int((logits.argmax(1) == yt).sum())
        float(torch.nn.functional.cross_entropy(logits, yt, reduction="sum"))
    return time.perf_counter() - t0


def time_exact(model, inputs, labels, backend: str) -> float:
    t0 = time.perf_counter()
    score(model.spec, model.weights, inputs, labels, backend=backend)
    return time.perf_counter() - t0


HEADLINE = {"small": "exact-1t", "large": "exact-torch"}


def bench(name: str, sizes: list[int], samples: int, rounds: int) -> float:
    net, X, y = build(sizes, samples, seed=sum(sizes))
    model = to_chain(net, input_shape=(sizes[0],))
    inputs, labels = quantize_inputs(X, model.spec), y.astype(np.int64)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    fw = {b: forward(model.spec, model.weights, inputs, backend=b) for b in ("numpy", "torch")}  # warm-up too
    digest = {b: hashlib.sha256(f.logits.tobytes()).hexdigest()[:16] for b, f in fw.items()}
    assert digest["numpy"] == digest["torch"], "backends disagree"
    s = score(model.spec, model.weights, inputs, labels)
    time_torch_f32(net, Xt, yt)

    runs = {"torch-f32": [], "exact": [], "exact-1t": [], "exact-torch": []}
    for r in range(rounds):
        order = list(runs) if r % 2 == 0 else list(reversed(runs))  # alternate to spread drift evenly
        for kind in order:
            gc.collect()
            if kind == "torch-f32":
                runs[kind].append(time_torch_f32(net, Xt, yt))
            elif kind == "exact-1t":
                with threadpool_limits(limits=1, user_api="blas"):
                    runs[kind].append(time_exact(model, inputs, labels, "numpy"))
            else:
                runs[kind].append(time_exact(model, inputs, labels, "numpy" if kind == "exact" else "torch"))

    params = sum(p.numel() for p in net.parameters())
    print(f"\n{name}: {'-'.join(map(str, sizes))}, {params:,} parameters, {samples:,} samples, {rounds} rounds")
    print(f"  matmul paths: numpy {', '.join(fw['numpy'].paths)}; torch {', '.join(fw['torch'].paths)};  "
          f"logits sha256 {digest['numpy']}... (numpy == torch backend);  score correct={s.correct}/{s.total} "
          f"loss={s.loss}")
    print(f"  {'path':<14}{'median ms':>12}{'min ms':>10}{'ratio vs torch-f32':>21}{'ratio of mins':>16}")
    for kind, times in runs.items():
        ratio = statistics.median(t / b for t, b in zip(times, runs["torch-f32"]))
        best = min(times) / min(runs["torch-f32"])
        print(f"  {kind:<14}{statistics.median(times) * 1e3:>12.1f}{min(times) * 1e3:>10.1f}{ratio:>20.2f}x"
              f"{best:>15.2f}x")
    return statistics.median(t / b for t, b in zip(runs[HEADLINE[name]], runs["torch-f32"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 rounds, large model on 2,000 samples")
    args = ap.parse_args()
    print(f"scoring bench: torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
          f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    small = bench("small", [64, 128, 64, 10], 1_000, 5 if args.quick else 30)
    large = bench("large", [784, 1024, 1024, 10], 2_000 if args.quick else 10_000, 3 if args.quick else 7)
    print("\nratios are medians of per-round ratios (each round re-measures every path on the same samples);\n"
          "the ratio of minimum times is less sensitive to other load on a shared machine")
    print(f"headline ratios: small = {HEADLINE['small']}, large = {HEADLINE['large']} (median ratio vs torch-f32)")
    print(f"ratio scoring_vs_torch_f32_small {small:.2f}")
    print(f"ratio scoring_vs_torch_f32_large {large:.2f}")


if __name__ == "__main__":
    main()
