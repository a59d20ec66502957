"""What secure aggregation costs a trainer: masking and submission time as a ratio to its local training.

For 10^5 and 10^6 parameters (issue 14, aggregate mode):

  train    the SDK's local training on the trainer's side: client.training.train (its defaults: 5 epochs,
           SGD with momentum 0.9, lr 0.05, batch 64, cross-entropy) of the float64 net client.model.from_chain
           rebuilds from the head, as client.training.train_from_head does, on synthetic data (default
           2000 samples of 100 N(0, 1) features, labels the argmax of a fixed random linear teacher over
           10 classes). The baseline.
  delta    client.trainer.delta_from_torch + decoding to int64 tensors: paid in open mode too, so reported
           but not counted in the ratio.
  secagg   one member's side of a cohort of k = 5, counted in the ratio:
             new_member          fresh X25519 round key and self seed
             join_envelopes      both 32-byte secrets sealed to 4 validators of power 10 (40 shares,
                                 threshold 30: the local testnet's set), X25519 keys made as the sealing
                                 tests make them
             masked_update       the self mask and the 4 signed pair masks (AES-256-CTR, 8 bytes per
                                 parameter each), added to the flattened delta mod 2^64
             encode_masked       the canonical bytes that go on chain (8 bytes per parameter)
  seal     for comparison: open mode's client.seal.seal of the same delta's canonical bytes (not in the ratio).

The model is an MLP 100-H-H-10 with H chosen so its parameter count is closest to the target. The other
4 members' round keys are made untimed; the measured member sits in the middle of the cohort (index 2),
and every member computes the same number of pair masks. Torch and numpy run on one thread by default
(--threads), so both sides of the ratio are single-threaded: a trainer with more cores trains faster and
sees a larger ratio (masking is AES-CTR and numpy additions, one thread). Each step is timed --reps times
(training --train-reps times) and the median is reported; ratio = median secagg / median train.

    .venv/bin/python bench/secagg_masking.py            # 2000 samples, 5 epochs, 5 trainings, 11 maskings per size
    .venv/bin/python bench/secagg_masking.py --quick    # 500 samples, 2 epochs, 1 training, 3 maskings: under 2 minutes
"""
from __future__ import annotations

import argparse
import hashlib
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

K = 5
VALIDATOR_POWERS = [10, 10, 10, 10]
INPUTS, CLASSES = 100, 10
SIZES = {"1e5": 10**5, "1e6": 10**6}


def hidden_width(target: int) -> int:
    """H such that 100-H-H-10 has the parameter count closest to `target`: H^2 + (100 + 10 + 2) H + 10."""
    b = INPUTS + CLASSES + 2
    h = int((-b + math.sqrt(b * b + 4 * (target - CLASSES))) / 2)
    return min((h, h + 1), key=lambda w: abs(params_of(w) - target))


def params_of(h: int) -> int:
    return INPUTS * h + h + h * h + h + h * CLASSES + CLASSES


def validator_set():
    """(index, X25519 public key, power), keys derived as tests/sealing/sealingutil.py derives them."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    out = []
    for i, power in enumerate(VALIDATOR_POWERS):
        private = hashlib.sha256(b"gradchain sealing test validator " + str(i).encode()).digest()
        public = X25519PrivateKey.from_private_bytes(private).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        out.append((i, public, power))
    return out


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def measure(label: str, target: int, args, validators) -> float:
    import torch

    from chain.rounds.delta import decode_delta
    from chain.secagg import masks
    from chain.sealing.envelope import seal_context
    from client import secagg
    from client.dp import encode_delta
    from client.model import from_chain, to_chain
    from client.seal import seal
    from client.trainer import delta_from_torch
    from client.training import train

    h = hidden_width(target)
    torch.manual_seed(0)
    start = torch.nn.Sequential(torch.nn.Linear(INPUTS, h), torch.nn.ReLU(), torch.nn.Linear(h, h), torch.nn.ReLU(),
                                torch.nn.Linear(h, CLASSES))
    head = to_chain(start, input_shape=(INPUTS,))
    n_params = sum(int(w.size) for w in head.weights)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((args.samples, INPUTS))
    y = (X @ rng.standard_normal((INPUTS, CLASSES))).argmax(axis=1)

    train(from_chain(head), (X[:64], y[:64]), epochs=1, seed=0, progress=False)   # warm-up, untimed
    train_times, net = [], None
    for r in range(args.train_reps):
        net = from_chain(head)                       # what train_from_head trains: float64
        if args.float32:
            net = net.float()
        t, net = timed(lambda: train(net, (X, y), epochs=args.epochs, seed=r, progress=False))
        train_times.append(t)
    t_delta, arrays = timed(lambda: decode_delta(delta_from_torch(head, net)))

    ctx = masks.context("bench-1", 1, 1, 0)
    seal_ctx = seal_context("bench-1", 1, 1, b"\x11" * 20)
    me = 2
    steps = {"new_member": [], "join_envelopes": [], "masked_update": [], "encode_masked": [], "secagg": [],
             "open-mode seal": []}
    raw_len = 0
    update_bytes = encode_delta(arrays)
    warm = secagg.new_member()                                                  # warm-up, untimed
    secagg.masked_update(warm, 0, {0: warm.round_public, 1: secagg.new_member().round_public}, ctx, arrays)
    for _ in range(args.reps):
        others = {i: secagg.new_member() for i in range(K) if i != me}
        t_new, member = timed(secagg.new_member)
        t_join, _ = timed(lambda: secagg.join_envelopes(member, validators, seal_ctx, max_total_shares=256))
        pubkeys = {i: m.round_public for i, m in others.items()} | {me: member.round_public}
        t_mask, y_masked = timed(lambda: secagg.masked_update(member, me, pubkeys, ctx, arrays))
        t_enc, raw = timed(lambda: secagg.encode_masked(y_masked))
        raw_len = len(raw)
        for name, t in (("new_member", t_new), ("join_envelopes", t_join), ("masked_update", t_mask),
                        ("encode_masked", t_enc)):
            steps[name].append(t)
        steps["secagg"].append(t_new + t_join + t_mask + t_enc)
        t_seal, _ = timed(lambda: seal(update_bytes, validators, seal_ctx).encode())
        steps["open-mode seal"].append(t_seal)

    t_train = statistics.median(train_times)
    med = {name: statistics.median(v) for name, v in steps.items()}
    print(f"\n{label}: MLP {INPUTS}-{h}-{h}-{CLASSES}, {n_params:,} parameters; masked update {raw_len:,} bytes")
    print(f"  train ({args.samples} samples, {args.epochs} epochs, {'float32' if args.float32 else 'float64'}): "
          f"median {t_train * 1e3:9.1f} ms over {len(train_times)} ({', '.join(f'{t:.2f}' for t in train_times)} s)")
    print(f"  delta_from_torch + decode (also in open mode, not counted): {t_delta * 1e3:9.1f} ms")
    for name in ("new_member", "join_envelopes", "masked_update", "encode_masked"):
        print(f"  {name:<15} median {med[name] * 1e3:9.2f} ms   ({med[name] / t_train:.4f} of training)")
    print(f"  {'secagg total':<15} median {med['secagg'] * 1e3:9.2f} ms   ({med['secagg'] / t_train:.4f} of training)"
          f"   over {args.reps} reps")
    print(f"  for comparison, open mode's seal of the delta ({len(update_bytes):,} canonical bytes): "
          f"median {med['open-mode seal'] * 1e3:.2f} ms ({med['open-mode seal'] / t_train:.4f} of training)")
    return med["secagg"] / t_train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="500 samples, 2 epochs, 1 training, 3 maskings per size")
    ap.add_argument("--samples", type=int, default=None, help="training samples (default 2000, --quick 500)")
    ap.add_argument("--epochs", type=int, default=None, help="epochs (default 5, train's default; --quick 2)")
    ap.add_argument("--train-reps", type=int, default=None, help="trainings per size (default 5, --quick 1)")
    ap.add_argument("--reps", type=int, default=None, help="maskings per size (default 11, --quick 3)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0 keeps torch's default)")
    ap.add_argument("--float32", action="store_true", help="train a float32 copy instead of from_chain's float64")
    args = ap.parse_args()
    for name, full, quick in (("samples", 2000, 500), ("epochs", 5, 2), ("train_reps", 5, 1), ("reps", 11, 3)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)

    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"cohort k={K}, {len(VALIDATOR_POWERS)} validators of power {VALIDATOR_POWERS[0]}; torch threads "
          f"{torch.get_num_threads()}; {args.samples} synthetic samples, {args.epochs} epochs"
          f"{' (--quick)' if args.quick else ''}")
    validators = validator_set()
    ratios = {label: measure(label, target, args, validators) for label, target in SIZES.items()}
    print()
    for label, r in ratios.items():
        print(f"ratio secagg_mask_vs_train_{label} {r:.4f}")


if __name__ == "__main__":
    main()
