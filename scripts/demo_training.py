"""The federated-training demo: an owner registers a digit classifier with hidden validation shards and a
uusdc bounty; four trainers with skewed private splits of scikit-learn's digits train it over several
rounds through the chain, one of them flipping its labels. Each round the trainers pull the head, train
locally, seal and submit their deltas; the validators open them once the window closes, the owner's SDK
reveals the round's shard automatically, every validator scores the updates and their FedAvg aggregate
bit for bit, and the round closes: new head, payouts along the owner's curve, deposits back or forfeited.
Ends with the chain-trained model's test accuracy next to a centrally trained one on the same data.

    python scripts/demo_training.py NODE_URL KEYRING_DIR KEY [--rounds 5]      (scripts/demo.sh runs it)

`run()` is also what tests/integration/test_federated_demo.py calls, in a reduced size.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from chain.codec import u64  # noqa: E402
from client import Client, Keyring  # noqa: E402
from client.model import ChainModel, local_score, to_chain  # noqa: E402
from client.owner import Owner, round_end  # noqa: E402
from client.trainer import Trainer  # noqa: E402
from client.wallet import Wallet  # noqa: E402

SEED = 0
TEST, VALIDATION, SHARD = 297, 600, 100          # held-out test set; the owner's hidden validation shards
FAVOURITES = [(0, 1, 8), (2, 3, 9), (4, 5, 9), (6, 7, 8)]   # each trainer's over-represented digits
POISONER = 3                                     # trains on (label + 1) % 10
SKEW = 0.6                                       # share of a trainer's samples drawn from its favourites
DEPOSIT, BOUNTY = 10_000, 1_000_000
OWNER_SAMPLES = 40                               # the owner's own labelled data: its starting model


@dataclass
class Data:
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    parts: list = field(default_factory=list)     # one index array per trainer


def load_data() -> Data:
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(X))
    X, y = (X[order] / 16.0).astype(np.float32), y[order].astype(np.int64)
    data = Data(X[TEST + VALIDATION:], y[TEST + VALIDATION:], X[TEST:TEST + VALIDATION], y[TEST:TEST + VALIDATION],
                X[:TEST], y[:TEST])
    parts = [[] for _ in FAVOURITES]
    for i, label in enumerate(data.y_train):
        if i < OWNER_SAMPLES:
            continue   # label skew: most of a digit goes to the trainer that likes it
        fans = [k for k, fav in enumerate(FAVOURITES) if label in fav]
        k = fans[0] if fans and rng.random() < SKEW else int(rng.integers(len(FAVOURITES)))
        parts[k].append(i)
    data.parts = [np.array(p) for p in parts]
    return data


def new_net():
    import torch
    torch.manual_seed(SEED)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


def owner_model(data: Data):
    """The owner's starting point: the network trained briefly on the owner's own few samples."""
    return fit(new_net(), data.X_train[:OWNER_SAMPLES], data.y_train[:OWNER_SAMPLES], 20)


def fit(net, X, y, epochs: int, lr: float = 0.01):
    """A trainer's own loop: full-batch Adam (the digits are small). Any loop works with the SDK."""
    import torch
    net = copy.deepcopy(net).float()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(epochs):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    return net


def accuracy(model: ChainModel, X, y) -> float:
    return local_score(model, X, y).correct / len(y)


def central_accuracy(data: Data) -> float:
    """The same network trained centrally on all the owner's and trainers' (clean) data, quantized the same way."""
    return accuracy(to_chain(fit(new_net(), data.X_train, data.y_train, 200), input_shape=(64,)),
                    data.X_test, data.y_test)


def _say(quiet: bool, *args) -> None:
    if not quiet:
        print(*args, flush=True)


def run(url: str, owner_wallet: Wallet, *, rounds: int = 5, epochs: int = 40, round_blocks: int = 10,
        clients: list | None = None, quiet: bool = False, privacy: str = "open", dropout_round: int = 1) -> dict:
    """Drive the demo against a running chain; returns what happened (for the test and the summary).
    `clients`: one Client per trainer (default: a new connection each), so a test can watch their traffic.
    privacy "aggregate": the model publishes only cohort means (cohorts of k = 3); nobody poisons (inside a
    sum one poisoner would drag its honest cohort-mates down: docs/privacy.md), and in round
    `dropout_round` the last trainer joins but never submits, so the others' sum needs its round key."""
    aggregate = privacy == "aggregate"
    if aggregate:   # the join phase (half the window) must fit the trainers' local training
        round_blocks = max(round_blocks, 40)
    data = load_data()
    central = central_accuracy(data)
    with Client(url) as chain:
        owner = Owner(chain, owner_wallet)
        _say(quiet, f"owner registers a 64-32-10 digit classifier; {VALIDATION} validation samples stay hidden "
                    f"as {VALIDATION // SHARD} shards (only their Merkle root goes on chain)")
        reg = owner.register(owner_model(data), data.X_val, data.y_val, shard_size=SHARD, bounty=f"{BOUNTY}uusdc",
                             bond="5000000ugrad", deposit=f"{DEPOSIT}ugrad", target_score=950_000,
                             min_improvement=10_000, max_regression=100_000,
                             reward_curve=((0, 0), (5000, 7000), (10_000, 10_000)),
                             expiry_blocks=round_blocks * (rounds + 4) * 3, round_blocks=round_blocks,
                             reveal_blocks=round_blocks, progress=not quiet,
                             **({"privacy": "aggregate", "cohort_size": 3} if aggregate else {}))
        model_id = reg.model_id
        wallets = [Wallet.generate() for _ in FAVOURITES]
        for w in wallets:
            # deposits, tx fees and the scoring prepayment (max_shard_samples 4096 x 2368 multiply-adds x 1ugrad,
            # ~9.7M, mostly refunded when each round settles: docs/rounds.md "Scoring fees")
            chain.send(owner_wallet, w.address, {"ugrad": 12_000_000})
        clients = clients or [Client(url) for _ in wallets]
        trainers = [Trainer(c, w) for c, w in zip(clients, wallets)]
        poisoner = None if aggregate else POISONER
        names = [f"t{k + 1} likes {','.join(map(str, fav))}" + (" POISONS" if k == poisoner else "")
                 for k, fav in enumerate(FAVOURITES)]
        _say(quiet, f"model {model_id}: bounty {BOUNTY}uusdc, deposit {DEPOSIT}ugrad per update, target 95%, "
                    f"a new head must gain 1 pp, an update more than 10 pp below its parent forfeits; "
                    f"trainers' private samples: {[len(p) for p in data.parts]}")
        history = []
        with owner.auto_reveal(model_id, reg.shards), ThreadPoolExecutor(len(trainers)) as pool:
            for i in range(rounds):
                dropout = len(trainers) - 1 if aggregate and i == dropout_round else None
                history.append(_one_round(chain, model_id, trainers, names, data, epochs, pool, quiet,
                                          poisoner=poisoner, aggregate=aggregate, dropout=dropout))
        head = Trainer(chain, owner_wallet).head(model_id)
        final = accuracy(head, data.X_test, data.y_test)
        board = chain.query_json("/rounds/leaderboard", u64(model_id))
        earned = [t.earnings() for t in trainers]
        for entry in history:   # the round records as they stand now, payouts confirmed since included
            entry["info"] = chain.query_json("/rounds/round", u64(model_id, entry["round"]))
        for c in clients:
            c.close()
    _say(quiet, f"\nchain-trained model: {final:.1%} test accuracy; centrally trained on the same data: {central:.1%} "
                f"({final / central:.1%} of central)")
    if board["pending"]:
        _say(quiet, f"(round {board['pending']['round']}'s head is paid when a later round confirms it)")
    _say(quiet, "earnings: " + "; ".join(f"{n}: {e['earned'].get('uusdc', '0')}uusdc, forfeited "
                                           f"{e['forfeited'].get('ugrad', '0')}ugrad" for n, e in zip(names, earned)))
    return {"model_id": model_id, "final_accuracy": final, "central_accuracy": central, "history": history,
            "leaderboard": board, "earnings": earned, "trainers": [w.address for w in wallets],
            "names": names}


def _one_round(chain, model_id, trainers, names, data, epochs, pool, quiet, poisoner=POISONER, aggregate=False,
               dropout=None) -> dict:
    from chain.registry.model import join_end, window_start
    from client.aggregate import join
    record = chain.query_json("/registry/model", u64(model_id))
    round_ = record["current_round"]
    end = round_end(record, round_)
    # too little of this window (aggregate mode: of its join phase) left for four trainers to train
    last = join_end(record["activated_height"], record["round_blocks"], round_) if aggregate else end
    if last - chain.rpc.latest_height() < (12 if aggregate else 4):
        round_ += 1
        chain.rpc.wait_for_height(window_start(record["activated_height"], record["round_blocks"], round_) - 1,
                                  timeout=120)
    head = trainers[0].head(model_id)
    head_acc = accuracy(head, data.X_test, data.y_test)
    t0 = time.monotonic()

    def work(k):
        X, y = data.X_train[data.parts[k]], data.y_train[data.parts[k]]
        if k == poisoner:
            y = (y + 1) % 10
        if k == dropout:   # joins the cohort, then goes away: its masks must be removed from the others' sum
            info = trainers[k].round(model_id, round_)
            joined = join(trainers[k], chain.query_json("/registry/model", u64(model_id)), round_,
                          info["base_version"], info)
            return trainers[k].wait_for_result(joined.sub, timeout=300, progress=False)
        sub = trainers[k].train_and_submit(model_id, X, y, train=lambda net, X_, y_: fit(net, X_, y_, epochs),
                                           round_=round_, progress=False)
        return trainers[k].wait_for_result(sub, timeout=300, progress=False)

    results = list(pool.map(work, range(len(trainers))))
    info = chain.query_json("/rounds/round", u64(model_id, round_))
    confirmed = _confirmation(chain, model_id, round_, trainers, names)
    after = trainers[0].head(model_id)
    after_acc = accuracy(after, data.X_test, data.y_test)
    winners = info.get("winners") or []
    if aggregate:
        how = ("the mean of cohort " + ",".join(f"t{i + 1}" for i in _trainer_indices(info, winners, trainers))
               if winners else "no cohort mean beat the head")
        holds = (f"chain holds for round {round_}: {len(info['member_list'])} joins (round public keys, hashes of "
                 f"the masked updates), cohorts (status, submitted) "
                 f"{[(c['status'], len(c.get('submitted', []))) for c in info['cohort_list']]}, "
                 f"{len(info['submission_list'])} cohort mean(s); no single update was ever opened or stored")
    else:
        how, holds = None, ""
    how = how or ("aggregate of " + ",".join(f"t{i + 1}" for i in _trainer_indices(info, winners, trainers))
           if len(winners) > 1 else f"t{_trainer_indices(info, winners, trainers)[0] + 1}'s update" if winners
           else "no candidate beat the head")
    _say(quiet, f"\nround {round_}: head v{record['head_version']} ({head_acc:.1%} test) -> "
                f"v{info['head_version'] if info.get('new_version') is None else info['new_version']} "
                f"({after_acc:.1%} test): {how}" + ("; paid once a later round confirms it" if winners else "")
                + f" [{time.monotonic() - t0:.1f} s]")
    if holds:
        _say(quiet, "   " + holds)
    if confirmed:
        _say(quiet, "   " + confirmed)
    for name, r in zip(names, results):
        score = r.get("score")
        shard_acc = f"{score['correct'] / score['total']:.0%}" if score else "-"
        forfeited = r["status"] == "invalid" or (r.get("outcome") == "harmful" and not r.get("deposit_returned"))
        deposit = "forfeited" if forfeited else "returned"
        _say(quiet, f"   {name:<24} {r.get('outcome', r['status']):<10} shard acc {shard_acc:>4}  deposit {deposit}")
    return {"round": round_, "head_before": head_acc, "head_after": after_acc, "info": info, "results": results}


def _confirmation(chain, model_id, round_, trainers, names) -> str:
    """What this round's close paid an earlier round's head, confirmed on this round's fresh shard."""
    board = chain.query_json("/rounds/leaderboard", u64(model_id))
    for r in board["rounds"]:
        if r.get("confirmed_round") == round_:
            earlier = chain.query_json("/rounds/round", u64(model_id, r["round"]))
            by_seq = {s["seq"]: s for s in earlier["submission_list"]}
            addresses = [t.wallet.address for t in trainers]
            members = {m["seq"]: m for m in earlier.get("member_list", [])}
            parts = []
            for seq in r["winners"]:
                if "members" in by_seq[seq]:   # a cohort's mean: each member's equal share
                    parts += [f"{names[addresses.index(members[m]['member'])].split()[0]} {members[m]['payout']}uusdc"
                              for m in by_seq[seq]["members"]]
                else:
                    parts.append(f"{names[_trainer_indices(earlier, [seq], trainers)[0]].split()[0]} "
                                 f"{by_seq[seq]['payout']}uusdc")
            who = ", ".join(parts)
            return (f"this round's shard confirms round {r['round']}'s head: {r['confirmed_gain'] / 10_000:+.0f} pp "
                    f"over the version it replaced -> paid {r['paid']}uusdc ({who})")
    return ""


def _trainer_indices(info: dict, seqs: list, trainers) -> list[int]:
    """The trainers behind submissions `seqs`: its submitter, or every member in a cohort's sum."""
    addresses = [t.wallet.address for t in trainers]
    members = {m["seq"]: m["member"] for m in info.get("member_list", [])}
    out = []
    for s in info["submission_list"]:
        if s["seq"] in seqs:
            out += [addresses.index(members[m]) for m in s["members"]] if "members" in s else \
                [addresses.index(s["submitter"])]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("keyring")
    parser.add_argument("key")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--privacy", choices=("open", "aggregate"), default="open")
    args = parser.parse_args()
    wallet = Keyring(args.keyring).load(args.key, os.environ["GRADCHAIN_PASSWORD"])
    result = run(args.url, wallet, rounds=args.rounds, privacy=args.privacy)
    if result["final_accuracy"] < 0.95 * result["central_accuracy"]:
        sys.exit("the chain-trained model did not reach 95% of the central accuracy")


if __name__ == "__main__":
    main()
