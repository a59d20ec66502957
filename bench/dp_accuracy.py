"""Accuracy against epsilon: open-mode local DP vs aggregate-mode distributed DP (issue 14 item 3).

    .venv/bin/python bench/dp_accuracy.py            # 10 trainers, 10 rounds, cohorts of k = 5
    .venv/bin/python bench/dp_accuracy.py --quick    # 4 rounds

FedAvg on sklearn digits with the chain's fixed-point model (64-16-10 MLP): each round every trainer
trains the head on its own shard of the training split (client.training.train, 5 epochs, lr 0.1), quantizes its
delta, clips it to C and adds noise with client.dp.privatize, and the head moves by the mean of all
updates on the integer grid (chain/rounds/delta.py mean_half_even). Three runs from the same start:

* no DP;
* local DP (open mode, where each update is published): each trainer adds noise of std sigma = z C;
* distributed DP (aggregate mode, where only cohort sums are published): each adds sigma / sqrt(k)
  (`privatize(..., noise_share=k)`), so every released cohort sum carries sigma, the same guarantee.

Both DP runs spend the same epsilon per trainer (same z, same rounds; printed). This simulates the
rounds' arithmetic in process: it measures what the noise costs, not the chain. Accuracy is the chain's
own score (client.model.local_score) on the held-out test split.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 rounds instead of 10")
    ap.add_argument("--trainers", type=int, default=10)
    ap.add_argument("--cohort", type=int, default=5)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--noise", type=float, default=1.1, help="noise multiplier z")
    args = ap.parse_args()
    rounds = 4 if args.quick else 10

    import torch
    from sklearn.datasets import load_digits

    from chain.rounds.delta import mean_half_even
    from chain.scoring.fixedpoint import signed_range
    from client.dp import DPConfig, PrivacyAccountant, make_rng, privatize
    from client.model import ChainModel, from_chain, local_score, to_chain
    from client.trainer import delta_from_torch
    from client.training import train

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, y_train, X_test, y_test = X[:1400], y[:1400], X[1400:], y[1400:]
    shards = np.array_split(np.arange(len(y_train)), args.trainers)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10))
    start = to_chain(net, input_shape=(64,))

    def accuracy(model: ChainModel) -> float:
        s = local_score(model, X_test, y_test)
        return s.correct / s.total

    def run(noise_share: int | None) -> float:
        head, rng = start, make_rng(7)
        dp = DPConfig(clip_norm=args.clip, noise_multiplier=args.noise) if noise_share else None
        lo_hi = [signed_range(head.spec.weight_format.bits), signed_range(head.spec.bias_bits)]
        for r in range(rounds):
            deltas = []
            for t, idx in enumerate(shards):
                local = train(copy.deepcopy(from_chain(head)).float(), (X_train[idx], y_train[idx]), epochs=5, lr=0.1,
                              seed=r * 1000 + t, progress=False)
                delta = delta_from_torch(head, local)
                if dp is not None:
                    arrays, _ = privatize(delta, head, dp, rng=rng, noise_share=noise_share)
                else:
                    from chain.rounds.delta import decode_delta
                    arrays = decode_delta(delta)
                deltas.append(arrays)
            mean = [mean_half_even([d[i] for d in deltas]) for i in range(len(deltas[0]))]
            weights = tuple(np.clip(w + m, *lo_hi[i % 2]) for i, (w, m) in enumerate(zip(head.weights, mean)))
            head = ChainModel(spec=head.spec, weights=weights)
        return accuracy(head)

    accountant = PrivacyAccountant()
    accountant.record(args.noise, rounds=rounds)
    epsilon = accountant.epsilon(1e-5)
    plain = run(None)
    local = run(1)
    distributed = run(args.cohort)
    print(f"start accuracy {accuracy(start):.3f}; {args.trainers} trainers, {rounds} rounds, clip {args.clip}, "
          f"noise multiplier {args.noise}: epsilon {epsilon:.3g} at delta 1e-5 per trainer in both DP runs")
    print(f"no DP {plain:.3f}   local DP (open mode) {local:.3f}   distributed DP (aggregate, k={args.cohort}) "
          f"{distributed:.3f}")
    print(f"ratio dp_local_vs_no_dp {local / plain:.3f}")
    print(f"ratio dp_distributed_vs_no_dp {distributed / plain:.3f}")
    print(f"ratio dp_distributed_vs_local {distributed / local:.3f}")


if __name__ == "__main__":
    main()
