"""Bytes per update on chain and final accuracy, exact deltas vs compressed ones (issue 16 item 4).

The digits demo's task (scripts/demo_training.py: its data, skewed splits, starting model and training
loop; the poisoner trains honestly here), run for R rounds through the chain's own delta arithmetic: each
trainer's delta is encoded (exact `Weights`, or `CompressedDelta` deflated through the SDK's client.updates.compressed),
decoded and applied exactly as the chain does (chain.rounds.delta.apply_delta), and the round's head
becomes the FedAvg of the candidates (chain.rounds.delta.mean_half_even), as the chain's aggregate
candidate. Both modes start from the same model, train with the same seeds and data. Reported: the mean
plaintext bytes per update (what the chain stores and the envelope carries) and the final head's test
accuracy with the chain's kernel.

    .venv/bin/python bench/compressed_updates.py [--rounds 5] [--quick]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import numpy as np  # noqa: E402

import demo_training as demo  # noqa: E402
from chain.rounds.delta import apply_delta, mean_half_even  # noqa: E402
from client.model import ChainModel, from_chain, to_chain  # noqa: E402
from client.updates import compressed, delta_from_torch  # noqa: E402


def run(rounds: int, epochs: int, compress: bool) -> tuple[float, float]:
    import torch
    data = demo.load_data()
    head = to_chain(demo.owner_model(data), input_shape=(64,))
    sizes = []
    for r in range(rounds):
        candidates = []
        for k, part in enumerate(data.parts):
            torch.manual_seed(1000 * r + k)
            net = demo.fit(from_chain(head).float(), data.X_train[part], data.y_train[part], epochs)
            raw = delta_from_torch(head, net)
            if compress:
                raw = compressed(head, raw)
            sizes.append(len(raw))
            candidates.append(apply_delta(head.spec, head.weights, raw))
        head = ChainModel(head.spec, tuple(mean_half_even([c[i] for c in candidates]) for i in range(len(head.weights))))
    return float(np.mean(sizes)), demo.accuracy(head, data.X_test, data.y_test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 20 epochs")
    args = parser.parse_args()
    rounds, epochs = (3, 20) if args.quick else (args.rounds, args.epochs)
    exact_bytes, exact_acc = run(rounds, epochs, compress=False)
    small_bytes, small_acc = run(rounds, epochs, compress=True)
    print(f"{rounds} rounds x 4 trainers, {epochs} epochs each, FedAvg head")
    print(f"exact:      {exact_bytes:8.0f} bytes per update, final test accuracy {exact_acc:.4f}")
    print(f"compressed: {small_bytes:8.0f} bytes per update, final test accuracy {small_acc:.4f}")
    print(f"accuracy difference (compressed - exact): {100 * (small_acc - exact_acc):+.2f} pp")
    print(f"ratio compressed_bytes_reduction {exact_bytes / small_bytes:.3f}")


if __name__ == "__main__":
    main()
