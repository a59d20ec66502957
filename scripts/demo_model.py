"""Demo step: an owner registers a digit classifier with a hidden validation set and a uusdc bounty;
a trainer submits a sealed update in round 0 that nobody can read until the round closes; then the
validators release their key shares through vote extensions and the chain opens it; the owner reveals
round 0's shard and every validator scores the model bit for bit, and the trainer's update (a weight delta
against version 0) as head + delta on the same shard.

Run by scripts/demo.sh against its testnet: python scripts/demo_model.py NODE_URL KEYRING_DIR KEY.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from client import Client, Keyring  # noqa: E402
from client.model import Formats, local_score, to_chain  # noqa: E402
from client.owner import Owner  # noqa: E402
from client.trainer import Trainer, delta_from_torch, submission  # noqa: E402
from client.wallet import Wallet  # noqa: E402


def train(X, y, seconds_budget_epochs: int = 60) -> torch.nn.Sequential:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    for _ in range(seconds_budget_epochs):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    return net


def main(url: str, keyring_dir: str, key: str) -> None:
    digits = load_digits()
    X, y = (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int64)
    train_X, train_y, val_X, val_y = X[:1200], y[:1200], X[1200:], y[1200:]
    net = train(train_X, train_y)  # the owner's starting model: trained briefly on its own data
    wallet = Keyring(keyring_dir).load(key, os.environ["GRADCHAIN_PASSWORD"])
    with Client(url) as chain:
        owner = Owner(chain, wallet)
        print(f"registering a 64-32-10 digit classifier; {len(val_X)} validation samples stay hidden "
              "(only the Merkle root of their shards goes on chain)")
        model_id, shards = owner.register(net, val_X, val_y, shard_size=150, bounty="200000uusdc",
                                          bond="5000000ugrad", deposit="1000ugrad", target_score=990_000,
                                          expiry_blocks=2000, round_blocks=15, reveal_blocks=20)
        record = owner.model(model_id)
        print(f"model {model_id}: status {record['status']}, bounty escrowed in uusdc, "
              f"{len(shards.shards)} validation shards committed")
        trainer = Wallet.generate()
        chain.send(wallet, trainer.address, {"ugrad": 100_000})
        tuned = train(train_X, train_y, 120)   # the trainer's own, longer training run from the same start
        update = delta_from_torch(to_chain(net, input_shape=(64,), formats=Formats()), tuned)  # weight delta
        receipt = Trainer(chain, trainer).submit(model_id, update, round_=0)
        sub = submission(chain, model_id, 0, 0)
        print(f"a trainer submitted a sealed update in block {receipt.height}: status {sub['status']!r}; "
              "its key is split across the 4 validators, so nobody can read it before round 0 closes")
        print("waiting for round 0's submission window to close, then revealing shard 0 with its proof ...")
        receipt = owner.reveal(model_id, 0, shards, 0)
        print(f"shard 0 revealed in block {receipt.height}; validators score version 0 on it")
        for _ in range(120):
            sub = submission(chain, model_id, 0, 0)
            if sub["status"] != "sealed":
                break
            time.sleep(0.5)
        print(f"after the window closed the validators released their shares in vote extensions: the update "
              f"is now {sub['status']!r}")
        preview = local_score(to_chain(net, input_shape=(64,), formats=Formats()), val_X[:150], val_y[:150])
        for _ in range(120):
            scores = owner.versions(model_id)["versions"][0]["scores"]
            if scores:
                break
            time.sleep(0.5)
        else:
            raise SystemExit("no score recorded after 60 s")
        s = scores[0]
        print(f"on-chain score of version 0 on round 0's shard: {s['correct']}/{s['total']} correct, "
              f"integer loss {s['loss']} (block {s['height']})")
        same = (s["correct"], s["total"], int(s["loss"])) == (preview.correct, preview.total, preview.loss)
        print(f"the owner's local preview with the same kernel: {preview.correct}/{preview.total}, loss "
              f"{preview.loss}: {'identical, bit for bit' if same else 'DIFFERENT'}")
        if not same:
            raise SystemExit("local preview and chain score differ")
        for _ in range(120):
            sub = submission(chain, model_id, 0, 0)
            if "score" in sub or sub["status"] != "opened":
                break
            time.sleep(0.5)
        if "score" in sub:
            u = sub["score"]
            print(f"the trainer's update (head + delta) scored on the same shard: {u['correct']}/{u['total']} "
                  f"correct, integer loss {u['loss']}")
        else:
            print(f"the trainer's update was not scored: status {sub['status']!r} {sub.get('reason', '')}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
