"""Cost and latency of closing a round, on an in-process chain, as ratios to an empty block and to the bare
scoring kernel measured in the same run.

Part 1, cost. A fresh chain per run (chain.app.Application over LevelDB, or the memory KV with --kv memory;
FinalizeBlock + Commit driven like tests/chainutil.py, validators' vote extensions like
tests/rounds/test_release.py) with the local testnet's validator shape (4 validators of power 10: 40
shares, threshold 30), a digits MLP 64-32-10 (client.model.to_chain of a briefly trained net) and N trainers
that each submit one sealed delta (Adam fine-tuning of the head on their own minibatches: varied, no two
alike; most improve the head, a few are harmful). All N submissions go in the window's first block; the
round then runs as on CometBFT:

  empty     the window's remaining blocks (nothing to do): the baseline, median of R - 2 blocks
  end       block round_end, empty; the validators' precommits for it carry their shares (ExtendVote)
  open      block round_end + 1: the proposer's release tx (PrepareProposal); FinalizeBlock records the
            shares, reconstructs each key, decrypts and checks each update, validates it as a delta
  scoring   block round_end + 2: the owner's MsgRevealShard queues the head's and every update's scoring
            job, and the block's scoring budget (scoring_work_per_block, 1e9 multiply-adds as in
            config/local.toml: enough for all of them, so nothing is spread artificially) runs them
  close     the block whose end-block closes the round (new head, deposits). With two or more improving
            updates it is the next block, which first scores their FedAvg aggregate; with one update the
            round closes in the scoring block itself. The close pays nobody: the new head is recorded as
            the model's `pending` head and paid at the close of a later round of the model, whose fresh
            shard confirms its gain (docs/rounds.md "Closing a round"); that later close is not timed here.

The reveal comes one block after the opening here so that opening and scoring land in separate blocks.
Every block is timed as FinalizeBlock + Commit wall time; inside, the chain's own functions are wrapped
with timers (in this process only; chain/ is not modified): apply_release and its steps, the registry's
scoring queue (run_block) and the kernel calls within it, the round's close (settle._close), the
store's Merkle prepare, the synced commit. The baselines: the empty block, and the bare kernel
(chain.scoring.kernel.score) of the same candidates (head, every update's parent + delta, the aggregate)
on the same shard arrays, timed right after each round (and checked to give the chain's scores). BLAS runs
on one thread (--blas-threads; the bits are the same at any count): with the library's default of one
thread per CPU, on a 2-vCPU machine shared with other jobs, the small matmuls of this model waited on
thread wake-ups: the kernel took up to 10-20x longer, erratically, in the chain and outside alike.

Part 2, latency in blocks. For round_blocks R and reveal_blocks V, a submission at the window's first
(or last) block, the owner revealing at the earliest height the chain accepts (round_end) or one block
after the updates opened: the heights of submission, release, reveal, scores and the close (new head
chosen). The payout needs a confirming round: in the block after the close, one more trainer submits an
update of the new head to the round open then; the owner reveals that round's shard the same way (shard
1, fresh), and the payout events for the first round's head come at that round's close. Counted in
process (memory KV, 300 samples per shard).

    .venv/bin/python bench/round_close.py            # 1, 10, 50 updates; 9 runs each; latency table
    .venv/bin/python bench/round_close.py --quick    # 1 and 10 updates, 3 runs each; fewer latency rows
    .venv/bin/python bench/round_close.py --blocks   # every block of the first run of each count
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# torch trains the updates before any measurement; its idle OpenMP threads must not spin during it
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402

import chain.registry.keeper as registry_keeper  # noqa: E402
import chain.rounds.handlers as rounds_handlers  # noqa: E402
import chain.rounds.release as release  # noqa: E402
import chain.rounds.scoring_queue as scoring_queue  # noqa: E402
import chain.rounds.settle as settle  # noqa: E402
from chain.app import Application  # noqa: E402
from chain.auth.ante import sequence  # noqa: E402
from chain.codec import u64  # noqa: E402
from chain.invariants import check_all  # noqa: E402
from chain.results import BlockContext  # noqa: E402
from chain.rounds.delta import apply_delta, make_delta, mean_half_even  # noqa: E402
from chain.scoring.kernel import score  # noqa: E402
from chain.scoring.shards import load_shard  # noqa: E402
from chain.scoring.weights import load_weights  # noqa: E402
from chain.sealing.envelope import seal_context  # noqa: E402
from chain.store.kv import MemoryKV  # noqa: E402
from chain.tx.address import to_bech32  # noqa: E402
from chain.tx.coins import Coin  # noqa: E402
from chain.registry.messages import CurvePoint, MsgRegisterModel, MsgUploadWeights
from chain.rounds.messages import MsgRevealShard, MsgSubmitUpdate
from chain.validators.keeper import BONDED_POOL, consensus_address  # noqa: E402
from client.model import build_shards, to_chain  # noqa: E402
from client.seal import seal  # noqa: E402
from client.trainer import delta_from_torch, sealing_set  # noqa: E402
from client.txbuilder import sign_with_min_fee  # noqa: E402
from client.wallet import Wallet  # noqa: E402

CHAIN_ID = "bench-rounds-1"
DENOM = "ugrad"
AUTH = {"fee_denom": DENOM, "min_fee_base": 10, "min_fee_per_byte": 1, "max_tx_bytes": 1 << 20}
LOCAL_BUDGET = 1_000_000_000          # config/local.toml registry.scoring_work_per_block
OWNER = Wallet.from_seed(hashlib.sha256(b"round-close bench owner").digest())
N_VALIDATORS, BOND = 4, 10_000_000    # power 10 each at the default power reduction: the local testnet
MAX_UPDATES = 50
BOUNTY, DEPOSIT, MIN_IMPROVEMENT = 10**9, 1000, 1000


# --- keys and genesis ------------------------------------------------------------------------------------
def _seed(tag: str, i: int) -> bytes:
    return hashlib.sha256(f"round-close bench {tag} {i}".encode()).digest()


VALIDATOR_X25519 = [_seed("x25519", i) for i in range(N_VALIDATORS)]
VALIDATOR_CONSENSUS = [_seed("consensus", i) for i in range(N_VALIDATORS)]   # 32 bytes, stands in for Ed25519
OPERATORS = [Wallet.from_seed(_seed("operator", i)) for i in range(N_VALIDATORS)]
TRAINERS = [Wallet.from_seed(_seed("trainer", i)) for i in range(64)]


def _x25519_public(private: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def genesis(budget: int) -> dict:
    import base64
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    balances = [{"address": OWNER.address, "coins": [{"denom": DENOM, "amount": str(10**15)}]},
                {"address": to_bech32(BONDED_POOL), "coins": [{"denom": DENOM, "amount": str(BOND * N_VALIDATORS)}]}]
    balances += [{"address": t.address, "coins": [{"denom": DENOM, "amount": str(10**9)}]} for t in TRAINERS]
    return {
        "auth": {"params": AUTH},
        "bank": {"balances": sorted(balances, key=lambda b: b["address"])},
        "validators": {"validators": [
            {"operator": op.address, "consensus_pubkey": b64(VALIDATOR_CONSENSUS[i]),
             "encryption_pubkey": b64(_x25519_public(VALIDATOR_X25519[i])), "bond": str(BOND), "status": "active"}
            for i, op in enumerate(OPERATORS)]},
        # registry limits of config/local.toml, except the scoring budget when asked
        "registry": {"params": {"max_params": 1_000_000, "max_chunk_bytes": 262_144, "max_shards": 4096,
                                "max_shard_samples": 4096, "scoring_work_per_block": budget, "fee_per_work_unit": 1}},
        # the defaults (tests/rounds/roundsutil.py lowers the cap to 8): 64 submissions per round
        "rounds": {"params": {"max_submissions_per_round": 64, "max_payload_bytes": 700_000, "max_total_shares": 256}},
    }


# --- timers around chain functions (this process only) --------------------------------------------------
class Probe:
    """Accumulated wall time and call counts of wrapped functions, reset before each block."""

    def __init__(self):
        self.t: dict[str, float] = defaultdict(float)
        self.n: dict[str, int] = defaultdict(int)
        self._depth: dict[str, int] = defaultdict(int)

    def reset(self) -> None:
        self.t.clear()
        self.n.clear()

    def wrap(self, owner, name: str, label: str) -> None:
        fn = getattr(owner, name)
        probe = self

        def timed(*args, **kwargs):
            probe._depth[label] += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                probe._depth[label] -= 1
                if probe._depth[label] == 0:   # recursion-safe: count the outermost call only
                    probe.t[label] += time.perf_counter() - t0
                    probe.n[label] += 1
        setattr(owner, name, timed)


PROBE = Probe()
for _owner, _name, _label in [
        (release, "apply_release", "release"),              # FinalizeBlock's release tx, whole
        (release, "check_release", "release.check"),        # share checks (check_share per share)
        (release, "reconstruct", "release.reconstruct"),    # Lagrange over the threshold's shares, H(K)
        (release, "open_update", "release.decrypt"),        # AES-GCM decrypt + plaintext commitment
        (release, "candidate", "release.validate"),         # decode the delta, parent + delta, range check
        (scoring_queue, "run_block", "scoring"),            # the budgeted scoring queue, whole
        (scoring_queue, "score", "kernel"),                 # the kernel calls inside it
        (rounds_handlers, "end_block", "rounds.end"),       # deadlines, readiness checks, closes
        (settle, "_close", "close"),                        # new head (pending payout), deposits
        (settle, "_queue_aggregate", "close.queue_aggregate")]:
    PROBE.wrap(_owner, _name, _label)


@dataclass
class Block:
    role: str
    height: int
    txs: int
    finalize: float
    commit: float
    parts: dict = field(default_factory=dict)
    events: list = field(default_factory=list)

    @property
    def total(self) -> float:
        return self.finalize + self.commit


class BenchChain:
    """An Application driven block by block (FinalizeBlock + Commit timed), like tests/chainutil.py."""

    def __init__(self, kv, app_state: dict, check_invariants: bool = True):
        self.kv, self.app = kv, Application(kv)
        self.check_invariants = check_invariants
        PROBE.wrap(self.app.store, "prepare", "prepare")    # Merkle work of the block's changes
        PROBE.wrap(self.app, "_deliver", "txs")             # signed txs (ante + message), the release excluded
        self.app.init_chain(CHAIN_ID, 1, json.dumps(app_state).encode())
        self.height = 0
        self.blocks: list[Block] = []
        self.block([], "genesis")

    def block(self, txs: list[bytes], role: str = "") -> Block:
        self.height += 1
        ctx = BlockContext(CHAIN_ID, self.height, 1_700_000_000 + self.height, 0, b"\x00" * 20)
        PROBE.reset()
        t0 = time.perf_counter()
        result = self.app.finalize_block(ctx, txs)
        t1 = time.perf_counter()
        self.app.commit()
        t2 = time.perf_counter()
        assert result.app_hash == self.app.info()[1]
        for r in result.tx_results:
            assert r.code == 0, (role, r.codespace, r.code, r.log)
        events = [e for r in result.tx_results for e in r.events] + list(result.events)
        b = Block(role, self.height, len(txs), t1 - t0, t2 - t1, dict(PROBE.t), events)
        if self.check_invariants:   # untimed
            problems = check_all(self.app.store)
            assert not problems, problems
        self.blocks.append(b)
        return b

    def until(self, height: int, role: str) -> list[Block]:
        return [self.block([], role) for _ in range(height - self.height)]

    def sign(self, wallet: Wallet, *msgs, seq: int | None = None) -> bytes:
        seq = sequence(self.app.store, wallet.address_bytes) if seq is None else seq
        return sign_with_min_fee(wallet, CHAIN_ID, seq, list(msgs), AUTH)

    def query_json(self, path: str, data: bytes) -> dict:
        r = self.app.query(path, data)
        assert r.code == 0, (path, r.codespace, r.code, r.log)
        return json.loads(r.value)

    def round_info(self, model_id: int, round_: int) -> dict:
        return self.query_json("/rounds/round", u64(model_id, round_))

    # --- the release pipeline around a block (abci_app/server.py) ----------------------------------
    def votes(self, height: int) -> tuple[list[tuple[bytes, bytes]], dict]:
        """Every validator's ExtendVote(height) on the committed state, each checked by VerifyVoteExtension."""
        exts, t_ext, t_ver = [], [], []
        for i in range(N_VALIDATORS):
            t0 = time.perf_counter()
            ext = self.app.extend_vote(height, VALIDATOR_X25519[i])
            t_ext.append(time.perf_counter() - t0)
            exts.append((consensus_address(VALIDATOR_CONSENSUS[i]), ext))
        for address, ext in exts:
            t0 = time.perf_counter()
            assert self.app.verify_vote_extension(height, address, ext)
            t_ver.append(time.perf_counter() - t0)
        return exts, {"extend": statistics.median(t_ext), "verify": statistics.median(t_ver)}

    def proposal(self, extensions, txs: list[bytes]) -> tuple[list[bytes], dict]:
        t0 = time.perf_counter()
        proposed = self.app.prepare_proposal(self.height + 1, txs, extensions)
        t1 = time.perf_counter()
        assert self.app.process_proposal(self.height + 1, proposed)
        t2 = time.perf_counter()
        return proposed, {"prepare": t1 - t0, "process": t2 - t1}

    def close(self) -> None:
        if hasattr(self.kv, "close"):
            self.kv.close()


@contextlib.contextmanager
def new_kv(kind: str):
    if kind == "memory":
        yield MemoryKV()
        return
    from abci_app.leveldb import LevelDBKV
    with tempfile.TemporaryDirectory(prefix="round-close-") as d:
        kv = LevelDBKV(os.path.join(d, "state"))
        try:
            yield kv
        finally:
            kv.close()


# --- the model, its shards and the trainers' updates ----------------------------------------------------
@dataclass
class Data:
    head: object            # ChainModel, version 0
    shards: object          # ShardSet
    updates: list[bytes]    # canonical deltas against version 0, pairwise distinct
    shard_samples: int


def make_data(n_updates: int, shard_samples: int, seed: int = 0) -> Data:
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    n_val = 2 * shard_samples
    X_tr, y_tr = torch.tensor(X[:-n_val], dtype=torch.float32), torch.tensor(y[:-n_val])
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(12):                            # a briefly trained head (~85% on digits): room to improve
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X_tr), y_tr).backward()
        opt.step()
    head = to_chain(net, input_shape=(64,))
    # the validation samples, repeated so that every round the bench reaches has a shard of its own (a round
    # beyond the model's committed shards takes no submissions)
    shards = build_shards(np.concatenate([X[-n_val:]] * 4), np.concatenate([y[-n_val:]] * 4), head.spec, shard_samples)
    updates = []
    for i in range(n_updates):                     # each trainer: its own minibatches, steps and learning rate
        rng = np.random.default_rng(1000 + i)
        torch.manual_seed(1000 + i)
        local = copy.deepcopy(net)
        opt = torch.optim.Adam(local.parameters(), lr=float(rng.uniform(0.002, 0.01)))
        for _ in range(int(rng.integers(3, 15))):
            idx = torch.from_numpy(rng.choice(len(X_tr), 128, replace=False))
            opt.zero_grad()
            torch.nn.functional.cross_entropy(local(X_tr[idx]), y_tr[idx]).backward()
            opt.step()
        updates.append(delta_from_torch(head, local))
    assert len({hashlib.sha256(u).digest() for u in updates}) == len(updates), "two updates are equal"
    return Data(head, shards, updates, shard_samples)


def register(chain: BenchChain, data: Data, round_blocks: int, reveal_blocks: int, **terms) -> int:
    """Register and upload the head; `terms` are more MsgRegisterModel fields (bench/aggregate_close.py:
    privacy, cohort_size)."""
    raw = data.head.weights_bytes
    msg = MsgRegisterModel(
        spec=data.head.spec_bytes, weights_hash=hashlib.sha256(raw).digest(), weights_size=len(raw),
        shard_root=data.shards.root, shard_count=len(data.shards.shards), bounty=Coin.of(DENOM, BOUNTY),
        bond=Coin.of(DENOM, 50_000), round_blocks=round_blocks, reveal_blocks=reveal_blocks,
        min_improvement=MIN_IMPROVEMENT, deposit=Coin.of(DENOM, DEPOSIT), target_score=990_000, metric="accuracy",
        reward_curve=tuple(CurvePoint(progress_bps=p, payout_bps=q)
                           for p, q in ((0, 0), (5000, 7000), (10_000, 10_000))),
        expiry_height=1_000_000, **terms)
    b = chain.block([chain.sign(OWNER, msg)], "register")
    model_id = int(next(dict(e.attributes)["model_id"] for e in b.events if e.type == "register_model"))
    chunk = 262_144
    seq = sequence(chain.app.store, OWNER.address_bytes)
    uploads = [MsgUploadWeights(model_id=model_id, index=i, data=raw[o:o + chunk])
               for i, o in enumerate(range(0, len(raw), chunk))]
    chain.block([chain.sign(OWNER, m, seq=seq + i) for i, m in enumerate(uploads)], "upload")
    return model_id


def submit_txs(chain: BenchChain, model_id: int, round_: int, updates: list[bytes], parent: int = 0,
               trainers: list[Wallet] = TRAINERS) -> list[bytes]:
    info = chain.round_info(model_id, round_)
    vals = sealing_set(info)
    txs = []
    for trainer, update in zip(trainers, updates):
        envelope = seal(update, vals, seal_context(CHAIN_ID, model_id, round_, trainer.address_bytes),
                        max_total_shares=info["max_total_shares"]).encode()
        txs.append(chain.sign(trainer, MsgSubmitUpdate(model_id=model_id, round=round_, parent_version=parent,
                                                       envelope=envelope)))
    return txs


def reveal_tx(chain: BenchChain, data: Data, model_id: int, round_: int, index: int) -> bytes:
    return chain.sign(OWNER, MsgRevealShard(model_id=model_id, round=round_, shard=data.shards.shards[index],
                                            shard_index=index, proof=data.shards.proof(index).encode()))


def has_event(block: Block, kind: str) -> bool:
    return any(e.type == kind for e in block.events)


# --- part 1: cost ---------------------------------------------------------------------------------------
R_COST, V_COST = 12, 10


def cost_run(data: Data, n: int, kv_kind: str, budget: int) -> dict:
    with new_kv(kv_kind) as kv:
        chain = BenchChain(kv, genesis(budget))
        model_id = register(chain, data, R_COST, V_COST)
        info = chain.round_info(model_id, 0)
        start, end = info["window_start"], info["window_end"]
        chain.until(start - 1, "wait")
        chain.block(submit_txs(chain, model_id, 0, data.updates[:n]), "submit")
        empty = chain.until(end - 1, "empty")
        exts, vote_t = chain.votes(end)                  # precommits for block `end` carry the shares
        chain.block([], "end")
        txs, prop_t = chain.proposal(exts, [])
        assert release.is_release(txs[0])
        opened = chain.block(txs, "open")
        assert sum(e.type == "update_opened" for e in opened.events) == n
        assert not has_event(opened, "update_invalid")
        chain.block([reveal_tx(chain, data, model_id, 0, 0)], "reveal")
        while not has_event(chain.blocks[-1], "round_closed"):
            assert chain.height < end + 1000, "the round did not close"
            chain.block([], "score")
        chain.blocks[-1].role = "close" if chain.blocks[-1].role == "score" else "reveal+close"
        record = chain.round_info(model_id, 0)
        # the close chooses the new head and settles the deposits; nobody is paid until a later round confirms
        assert not any(has_event(b, "payout") for b in chain.blocks), "a payout in the round's own close"
        assert record["payout_pending"] == (record["new_version"] is not None)
        raw = raw_kernel(data, record, n)
        chain.close()
    blocks = chain.blocks
    after_open = [b for b in blocks if b.height > opened.height]
    close = after_open[-1]
    # (c): the close block without its scoring step and its txs (with one update, the reveal shares the block)
    close_part = close.total - close.parts.get("scoring", 0.0) - close.parts.get("txs", 0.0)
    return {
        "n": n, "blocks": blocks, "record": record, "votes": vote_t, "proposal": prop_t,
        "empty": statistics.median(b.total for b in empty),
        "submit": next(b.total for b in blocks if b.role == "submit"),
        "end": next(b.total for b in blocks if b.role == "end"),
        "open": opened.total, "open_parts": opened.parts,
        "score_blocks": sum(1 for b in after_open if b.parts.get("kernel")),
        "scoring": sum(b.parts.get("scoring", 0.0) for b in after_open),
        "kernel": sum(b.parts.get("kernel", 0.0) for b in after_open),
        "scoring_blocks_total": sum(b.total for b in after_open) - close_part,
        "close": close_part, "close_fn": close.parts.get("close", 0.0),
        "close_parts": close.parts,
        "round": sum(b.total for b in blocks if b.height >= opened.height - 1),   # end .. close
        "raw": raw["time"], "raw_jobs": raw["jobs"],
        "winners": record["winners"], "aggregate": record.get("aggregate", {}).get("of"),
        "outcomes": sorted(s.get("outcome", s["status"]) for s in record["submission_list"]),
    }


def raw_kernel(data: Data, record: dict, n: int) -> dict:
    """The bare kernel on the same candidates and shard arrays; checks it gives the chain's scores."""
    spec, head = data.head.spec, data.head.weights
    inputs, labels = load_shard(data.shards.shards[0], spec, 1 << 62)
    subs = record["submission_list"]
    cands = [apply_delta(spec, head, data.updates[s["seq"]]) for s in subs]
    jobs = [(head, None)] + [(c, s["score"]) for c, s in zip(cands, subs)]
    aggregate = record.get("aggregate")
    if aggregate:
        members = [cands[seq] for seq in aggregate["of"]]
        mean = tuple(mean_half_even([m[i] for m in members]) for i in range(len(head)))
        jobs.append((mean, aggregate["score"]))
    total = 0.0
    for weights, want in jobs:
        t0 = time.perf_counter()
        s = score(spec, weights, inputs, labels)
        total += time.perf_counter() - t0
        if want is not None:
            assert (s.correct, str(s.loss)) == (want["correct"], want["loss"]), "the chain scored differently"
    return {"time": total, "jobs": len(jobs)}


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def print_blocks(run: dict) -> None:
    print(f"\n  blocks of the run with {run['n']} update(s) (ms; parts are inside FinalizeBlock):")
    for b in run["blocks"]:
        if b.role in ("genesis", "wait", "register", "upload"):
            continue
        parts = " ".join(f"{k}={v * 1e3:.1f}" for k, v in sorted(b.parts.items()) if v >= 5e-5)
        print(f"    h{b.height:<4} {b.role:<13} txs={b.txs:<3} finalize={ms(b.finalize):>7} "
              f"commit={ms(b.commit):>6}  {parts}")


def cost_part(data: Data, ns: list[int], repeats: int, kv_kind: str, budget: int, show_blocks: bool) -> dict:
    runs: dict[int, list[dict]] = {n: [] for n in ns}
    cost_run(data, min(3, max(ns)), kv_kind, budget)   # warm-up, discarded: the first kernel call pays ~0.4 s
    for rep in range(repeats):
        for n in (ns if rep % 2 == 0 else ns[::-1]):     # alternate the order to spread drift
            runs[n].append(cost_run(data, n, kv_kind, budget))
    if show_blocks:
        for n in ns:
            print_blocks(runs[n][0])
    med = {n: {k: statistics.median(r[k] for r in rs) for k in
               ("empty", "submit", "end", "open", "scoring", "kernel", "scoring_blocks_total", "close", "close_fn",
                "round", "raw", "score_blocks")} for n, rs in runs.items()}
    for n, rs in runs.items():   # minimums over runs: less sensitive to other load on a shared machine
        for k in ("empty", "open", "scoring", "kernel", "raw", "close", "round"):
            med[n]["min_" + k] = min(r[k] for r in rs)
    for n, rs in runs.items():   # ratios: medians of per-run ratios (each run has its own baselines)
        med[n]["r_open"] = statistics.median(r["open"] / r["empty"] for r in rs)
        med[n]["r_score"] = statistics.median(r["scoring_blocks_total"] / r["empty"] for r in rs)
        med[n]["r_close"] = statistics.median(r["close"] / r["empty"] for r in rs)
        med[n]["q_raw"] = statistics.median(r["scoring"] / r["raw"] for r in rs)
        med[n]["k_raw"] = statistics.median(r["kernel"] / r["raw"] for r in rs)
        med[n]["round_raw"] = statistics.median(r["round"] / r["raw"] for r in rs)
        for part in ("check", "reconstruct", "decrypt", "validate"):
            med[n]["open." + part] = statistics.median(r["open_parts"].get("release." + part, 0.0) for r in rs)
        med[n]["open.prepare"] = statistics.median(r["open_parts"].get("prepare", 0.0) for r in rs)
        med[n]["extend"] = statistics.median(r["votes"]["extend"] for r in rs)
        med[n]["verify"] = statistics.median(r["votes"]["verify"] for r in rs)
        med[n]["prepare_proposal"] = statistics.median(r["proposal"]["prepare"] for r in rs)
        med[n]["process_proposal"] = statistics.median(r["proposal"]["process"] for r in rs)
        first = rs[0]
        med[n]["jobs"] = first["raw_jobs"]
        med[n]["aggregate"] = len(first["aggregate"] or [])
        med[n]["winners"] = len(first["winners"])
        med[n]["outcomes"] = {o: first["outcomes"].count(o) for o in sorted(set(first["outcomes"]))}
    return med


def print_cost(med: dict, ns: list[int], repeats: int, kv_kind: str, budget: int, shard_samples: int) -> None:
    print(f"\nPart 1: block execution (FinalizeBlock + Commit) of a round close; {kv_kind} store; "
          f"scoring_work_per_block {budget:,}; shard {shard_samples} samples; medians of {repeats} runs")
    for n in ns:
        m = med[n]
        print(f"  {n} update(s): {m['jobs']} scoring jobs (head + updates + aggregate of {m['aggregate']}), "
              f"{m['winners']} winner(s), outcomes {m['outcomes']}")
    print(f"\n  {'updates':>7} | {'empty':>6} | {'(a) open':>8} {'x empty':>8} | {'(b) scoring':>11} {'blocks':>6} "
          f"{'queue':>7} {'kernel':>7} {'raw':>6} {'x raw':>6} | {'(c) close':>9} {'x empty':>8} | "
          f"{'end..close':>10} {'x raw':>6}")
    print(f"  {'':>7} | {'ms':>6} | {'ms':>8} {'':>8} | {'ms':>11} {'':>6} {'ms':>7} {'ms':>7} {'ms':>6} {'':>6} | "
          f"{'ms':>9} {'':>8} | {'ms':>10} {'':>6}")
    for n in ns:
        m = med[n]
        print(f"  {n:>7} | {ms(m['empty']):>6} | {ms(m['open']):>8} {m['r_open']:>7.1f}x | "
              f"{ms(m['scoring_blocks_total']):>11} {m['score_blocks']:>6.0f} {ms(m['scoring']):>7} "
              f"{ms(m['kernel']):>7} {ms(m['raw']):>6} {m['q_raw']:>5.2f}x | {ms(m['close']):>9} "
              f"{m['r_close']:>7.1f}x | "
              f"{ms(m['round']):>10} {m['round_raw']:>5.2f}x")
    print("  (a) the release block. (c) the close block without its scoring step and its txs: the round's end-block "
          "work\n  (readiness, new head, deposits) + Merkle + Commit; it pays nobody (the new head is paid at a later "
          "round's\n  close, not timed here). (b) every block from the reveal to the close, minus (c): the reveal tx, "
          "the scoring,\n  and the Merkle + Commit of blocks before the close. queue = the scoring queue's step "
          "(run_block) in them,\n  kernel = the kernel calls inside it, raw = the bare kernel on the same "
          "candidates outside the chain;\n  x raw = queue / raw. end..close = every block from round_end to the "
          "close.")

    print(f"\n  minimum over the runs, ms: {'updates':>7} | {'empty':>6} {'(a) open':>8} {'queue':>7} {'kernel':>7} "
          f"{'raw':>6} {'(c) close':>9} {'end..close':>10} | {'open/empty':>10} {'queue/raw':>9} "
          f"{'end..close/raw':>14}")
    for n in ns:
        m = {k[4:]: v for k, v in med[n].items() if k.startswith("min_")}
        print(f"  {'':>26} {n:>7} | {ms(m['empty']):>6} {ms(m['open']):>8} {ms(m['scoring']):>7} {ms(m['kernel']):>7} "
              f"{ms(m['raw']):>6} {ms(m['close']):>9} {ms(m['round']):>10} | {m['open'] / m['empty']:>9.1f}x "
              f"{m['scoring'] / m['raw']:>8.2f}x {m['round'] / m['raw']:>13.2f}x")

    print(f"\n  {'updates':>7} | open block parts, ms: {'shares':>7} {'rebuild':>8} {'decrypt':>8} {'validate':>9} "
          f"{'merkle':>7} | close: {'_close':>7} | off-block per node, ms: {'ExtendVote':>10} {'VerifyVE':>9} "
          f"{'Prepare':>8} {'Process':>8}")
    for n in ns:
        m = med[n]
        print(f"  {n:>7} | {'':>22}{ms(m['open.check']):>7} {ms(m['open.reconstruct']):>8} {ms(m['open.decrypt']):>8} "
              f"{ms(m['open.validate']):>9} {ms(m['open.prepare']):>7} | {'':>7}{ms(m['close_fn']):>7} | {'':>24}"
              f"{ms(m['extend']):>10} {ms(m['verify']):>9} {ms(m['prepare_proposal']):>8} "
              f"{ms(m['process_proposal']):>8}")
    print("  shares = check_release (every share against its commitment), rebuild = reconstruct, decrypt = "
          "open_update,\n  validate = parent + delta with its checks, merkle = the store's prepare; _close = new "
          "head, deposits.\n  ExtendVote: one validator decrypting its shares; VerifyVE: one extension "
          "checked; Prepare/ProcessProposal\n  of the release block (the proposer, then every validator).")

    if len(ns) > 1:
        print(f"\n  growth {'':>14} | "
              + " | ".join(f"{a}->{b} updates: x total, ms/update" for a, b in zip(ns, ns[1:])))
        for key, label in (("open", "(a) open block"), ("scoring_blocks_total", "(b) scoring blocks"),
                           ("scoring", "(b) queue"), ("raw", "raw kernel"), ("close", "(c) close block"),
                           ("round", "end..close")):
            cells = []
            for a, b in zip(ns, ns[1:]):
                cells.append(f"{med[b][key] / med[a][key]:>6.1f}x {(med[b][key] - med[a][key]) / (b - a) * 1e3:>7.2f}"
                             f"{'':>14}")
            print(f"  {label:<21} | " + " | ".join(cells))
        print("  ms/update = (t(b) - t(a)) / (b - a): the marginal cost of one more update")


# --- part 2: latency in blocks -------------------------------------------------------------------------
@dataclass(frozen=True)
class LatencyCase:
    R: int
    V: int
    n: int                  # updates (the best ones on shard 0: every one improves the head)
    reveal: str             # "earliest" (block round_end) | "after-open" (the block after the release)
    submit: str = "first"   # the window block the submissions go in: "first" | "last"
    budget: int = LOCAL_BUDGET


def play_round(chain: BenchChain, data: Data, model_id: int, round_: int, s: int, txs: list[bytes], reveal: str,
               shard_index: int) -> dict:
    """Submissions `txs` in block s of `round_`'s window, then the round as on CometBFT until it closes; the
    owner reveals shard `shard_index` at round_end or in the block after the release."""
    end = chain.round_info(model_id, round_)["window_end"]
    assert chain.height < s < end, (chain.height, s, end)
    chain.until(s - 1, "wait")
    chain.block(txs, "submit")
    chain.until(end - 1, "wait")
    exts, _ = chain.votes(end)
    reveal_txs = [reveal_tx(chain, data, model_id, round_, shard_index)]
    chain.block(reveal_txs if reveal == "earliest" else [], "end")
    proposed, _ = chain.proposal(exts, [])
    chain.block(proposed, "open")
    if reveal == "after-open":
        chain.block(reveal_txs, "reveal")

    def closed(b: Block) -> bool:
        return any(e.type == "round_closed" and dict(e.attributes)["round"] == str(round_) for e in b.events)
    while not closed(chain.blocks[-1]):
        assert chain.height < end + 200, "the round did not close"
        chain.block([], "")
    mine = [b for b in chain.blocks if b.height >= s]
    heights = lambda kind: [b.height for b in mine if has_event(b, kind)]  # noqa: E731
    record = chain.round_info(model_id, round_)
    return {"submit": s, "end": end, "release": heights("release_shares")[0], "reveal": heights("reveal_shard")[0],
            "scored": max(heights("scored")), "close": chain.height, "payout": heights("payout"),
            "aggregate": bool(record.get("aggregate")), "record": record}


def latency_run(data: Data, case: LatencyCase, best: list[int]) -> dict:
    chain = BenchChain(MemoryKV(), genesis(case.budget), check_invariants=False)
    model_id = register(chain, data, case.R, case.V)
    info = chain.round_info(model_id, 0)
    start, end = info["window_start"], info["window_end"]
    s = start if case.submit == "first" else end - 1
    first = play_round(chain, data, model_id, 0, s, submit_txs(chain, model_id, 0,
                                                               [data.updates[i] for i in best[:case.n]]),
                       case.reveal, 0)
    record = first["record"]
    assert record["new_version"] is not None, "no new head: pick improving updates"
    assert not first["payout"] and record["payout_pending"], "the round paid its own head at its close"
    # the confirming round: the round open in the block after the close (in process every window block has
    # room: one tx, always included); one more trainer's update of the new head, the next best of the
    # trained ones rebased onto it; the owner reveals shard 1 (fresh) the same way as in round 0
    s2 = chain.height + 1
    round2 = (s2 - start) // case.R
    spec, head = data.head.spec, data.head.weights
    new_head = load_weights(registry_keeper.weights_bytes(chain.app.store, model_id, record["new_version"]), spec)
    update = make_delta(new_head, apply_delta(spec, head, data.updates[best[case.n]]))
    txs = submit_txs(chain, model_id, round2, [update], parent=record["new_version"], trainers=[TRAINERS[case.n]])
    second = play_round(chain, data, model_id, round2, s2, txs, case.reveal, 1)
    record = chain.round_info(model_id, 0)
    assert second["payout"] == [second["close"]], "the head was not paid at the confirming round's close"
    assert record["paid_height"] == second["close"] and record["confirmed_round"] == round2, record
    return {**{k: v for k, v in first.items() if k != "record"}, "round2": round2, "submit2": s2,
            "end2": second["end"], "payout": second["close"], "aggregate2": second["aggregate"],
            "paid": int(record["paid"]), "head_gain": record["head_gain"], "confirmed_gain": record["confirmed_gain"]}


def latency_part(data: Data, quick: bool, block_seconds: float) -> None:
    head_shard = data.shards.shards[0]
    spec = data.head.spec
    inputs, labels = load_shard(head_shard, spec, 1 << 62)
    gains = [score(spec, apply_delta(spec, data.head.weights, u), inputs, labels).correct for u in data.updates]
    best = sorted(range(len(data.updates)), key=lambda i: (-gains[i], i))
    job_work = len(labels) * scoring_queue.work_per_sample(spec)
    cases = [LatencyCase(5, 3, 1, "earliest"), LatencyCase(5, 3, 3, "earliest"),
             LatencyCase(5, 3, 3, "earliest", submit="last"), LatencyCase(5, 1, 3, "earliest"),
             LatencyCase(5, 3, 1, "after-open"), LatencyCase(5, 3, 3, "after-open"),
             LatencyCase(20, 10, 1, "earliest"), LatencyCase(20, 10, 3, "earliest"),
             LatencyCase(5, 3, 3, "earliest", budget=job_work // 2)]
    if quick:
        cases = cases[:2] + cases[4:6] + cases[-1:]
    print(f"\nPart 2: blocks from submission to the round's close (new head chosen) and to its payout at the close "
          f"of a\n  confirming round (in process; {len(labels)}-sample shards, one scoring job = {job_work:,} "
          f"multiply-adds; the owner reveals at once)")
    print(f"  {'':>3} {'':>3} {'':>3} {'':>6} {'':>10} {'':>13} | round 0{'':>36} | confirming round{'':>12} | "
          f"{'blocks to close':>16} | {'blocks to payout':>16} | {'~s':>12}")
    print(f"  {'R':>3} {'V':>3} {'upd':>3} {'submit':>6} {'reveal':>10} {'budget':>13} | {'sub h':>5} {'end':>4} "
          f"{'release':>7} {'reveal':>6} {'scored':>6} {'close':>5} | {'round':>5} {'sub h':>5} {'end':>4} "
          f"{'payout':>6} | {'blocks':>6} {'formula':>9} | {'blocks':>6} {'formula':>9} | {'close':>5} {'payout':>6}")
    rows = []
    for case in cases:
        r = latency_run(data, case, best)
        rows.append((case, r))
        # close:  (round_end - s) + 1 release block + [1 reveal block if after the release] + [1 aggregate block]
        #         + [extra blocks when the jobs exceed the per-block scoring budget]
        f_close = (r["end"] - r["submit"]) + 1 + (case.reveal == "after-open") + r["aggregate"]
        x_close = r["close"] - r["submit"] - f_close
        # payout: (round_end' - s) + 1 release' + 1 block for the replaced version's job on the new shard (queued
        #         once the updates are scored) + [1 reveal' block if after the release] + [1 aggregate' block]
        #         + [extra scoring blocks']; round_end' = the confirming round's end
        f_pay = (r["end2"] - r["submit"]) + 2 + (case.reveal == "after-open") + r["aggregate2"]
        x_pay = r["payout"] - r["submit"] - f_pay
        print(f"  {case.R:>3} {case.V:>3} {case.n:>3} {case.submit:>6} {case.reveal:>10} {case.budget:>13,} | "
              f"{r['submit']:>5} {r['end']:>4} {r['release']:>7} {r['reveal']:>6} {r['scored']:>6} {r['close']:>5} | "
              f"{r['round2']:>5} {r['submit2']:>5} {r['end2']:>4} {r['payout']:>6} | "
              f"{r['close'] - r['submit']:>6} {f_close:>6}{'+' + str(x_close) if x_close else '':<3} | "
              f"{r['payout'] - r['submit']:>6} {f_pay:>6}{'+' + str(x_pay) if x_pay else '':<3} | "
              f"{(r['close'] - r['submit']) * block_seconds:>5.0f} {(r['payout'] - r['submit']) * block_seconds:>6.0f}")
    print("  close formula = (round_end - s) + 1 (release: the precommits for block round_end carry the shares "
          "into block\n  round_end + 1) + 1 if the reveal waits for the opening + 1 if >= 2 updates improve "
          "(their FedAvg aggregate is\n  scored a block later) + extra scoring blocks when the jobs exceed "
          "scoring_work_per_block (+k). The reveal may\n  share block round_end; scoring and the close share the "
          "block in which the last job ends. V only bounds the\n  reveal (RevealTooLate from round_end + V).")
    print("  payout formula = (round_end' - s) + 2 + 1 if the reveal waits for the opening + 1 if >= 2 updates of "
          "the\n  confirming round improve (+k). round_end' = the end of the confirming round, the round open in "
          "the block after\n  the close: round_end + R if the close comes at least 2 blocks before that window "
          "ends. 2 = its release block\n  (the update opened and scored) + 1 block for the replaced version's job "
          "on the new shard (queued once the\n  updates are scored); then the round closes and pays the pending "
          "head. From the window's first block (s =\n  round_end - R): close after R + 1 (+1 after-open, +1 "
          "aggregate) blocks, payout after 2R + 2 (+1 after-open):\n  R + 1 - aggregate blocks after the close, "
          "about one round more. V enters neither count\n  (it only bounds each reveal).")
    amounts = {(r["paid"], r["head_gain"], r["confirmed_gain"]) for _, r in rows}
    print(f"  paid at the confirming close, of the bounty of {BOUNTY:,} (the head's gain on shard 0 -> confirmed "
          "gain on\n  shard 1, in millionths of accuracy): "
          + "; ".join(f"{p:,} ({g:,} -> {c:,})" for p, g, c in sorted(amounts))
          + (" in every case" if len(amounts) == 1 else ""))
    print(f"  ~s = blocks x {block_seconds:g} s, an assumed block interval (config/local.toml sets "
          "timeout_commit = 1s, so at\n  least that on the local testnet; not measured here).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 and 10 updates, 3 runs each, fewer latency cases")
    ap.add_argument("--updates", type=int, nargs="+", default=None, help="update counts (default 1 10 50)")
    ap.add_argument("--repeats", type=int, default=None, help="runs per update count (default 9, quick 3)")
    ap.add_argument("--kv", choices=("leveldb", "memory"), default="leveldb")
    ap.add_argument("--budget", type=int, default=LOCAL_BUDGET, help="scoring_work_per_block for part 1")
    ap.add_argument("--shard-samples", type=int, default=500, help="samples per validation shard in part 1")
    ap.add_argument("--blocks", action="store_true", help="print every block of the first run of each count")
    ap.add_argument("--blas-threads", type=int, default=1,
                    help="BLAS threads for the kernel (default 1, as BENCHMARKS.md advises for small models; "
                         "0 = the library's default, what a node runs with unless told)")
    ap.add_argument("--no-latency", action="store_true", help="skip part 2")
    ap.add_argument("--block-seconds", type=float, default=1.0,
                    help="assumed block interval for part 2's seconds column (local preset timeout_commit: 1s)")
    args = ap.parse_args()
    ns = args.updates or ([1, 10] if args.quick else [1, 10, 50])
    if max(ns) > MAX_UPDATES:
        ap.error(f"at most {MAX_UPDATES} updates (one trainer each)")
    repeats = args.repeats or (3 if args.quick else 9)
    t0 = time.perf_counter()
    torch.set_num_threads(1)
    data = make_data(max(ns), args.shard_samples)
    from threadpoolctl import threadpool_info, threadpool_limits
    if args.blas_threads:
        limits = threadpool_limits(limits=args.blas_threads, user_api="blas")  # noqa: F841 (held for the run)
    blas = ", ".join(sorted({f"{p['internal_api']} {p['num_threads']} thread(s)" for p in threadpool_info()
                             if p["user_api"] == "blas"}))
    print(f"round close bench: python {sys.version.split()[0]}, numpy {np.__version__} ({blas}), "
          f"{os.cpu_count()} CPUs; "
          f"model 64-32-10 ({sum(w.size for w in data.head.weights):,} parameters, update {len(data.updates[0]):,} "
          f"bytes), 4 validators x power 10; {max(ns)} updates trained in {time.perf_counter() - t0:.1f} s")
    med = cost_part(data, ns, repeats, args.kv, args.budget, args.blocks)
    print_cost(med, ns, repeats, args.kv, args.budget, args.shard_samples)
    if not args.no_latency:
        small = make_data(12, 300) if args.shard_samples != 300 else data
        latency_part(small, args.quick, args.block_seconds)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    largest = max(ns)   # headline figures (same names with --quick): medians of per-run ratios, largest round
    print(f"ratio open_block_vs_empty {med[largest]['r_open']:.1f}")
    print(f"ratio scoring_queue_vs_bare_kernel {med[largest]['q_raw']:.2f}")
    print(f"ratio close_block_vs_empty {med[largest]['r_close']:.1f}")


if __name__ == "__main__":
    main()
