"""A round of 10,000 sealed updates: what releasing it costs in vote-extension bytes, in CometBFT's and the
chain's size caps, in ExtendVote / VerifyVoteExtension time and in open time (issue 15, target 5).

For each sealing set (share_plan's defaults: max_total_shares 256, threshold 2/3):
  4 x 10       the local testnet: 4 validators of power 10 (40 shares, threshold 30)
  20 scaled    bench/sealing.py's 20 validators of uneven power (i * 7919 % 97 + 3) * 10**6, scaled to 256 shares
  100 scaled   the same formula over 100 validators (the validators module's max_validators)

it builds, in process (chain.app.Application over MemoryKV, blocks driven like tests/chainutil.py, with
bench/round_close.py's BenchChain, model and registration), a chain whose genesis has those validators
and a rounds param max_submissions_per_round of N (the default is 64), registers a model, and submits N
sealed updates to its round 0 as real signed MsgSubmitUpdate txs (100 trainers, 500 txs per block; each
update is 300 distinct bytes sealed with client.seal.seal to the round's sealing set: the question is
release cost, not payload size). Nothing is shortcut through keeper functions. Then, at the first
height where the round is closed (its window's last block committed), on the committed state:

  ExtendVote      release.extension (app.extend_vote) for the set's validator holding the most shares and
                  the one holding the fewest (all four are alike in "4 x 10"), once with the chain's caps
                  (MAX_RELEASED_PER_TX = 1024 shares and MAX_RELEASE_BYTES = 512 KiB per extension and per
                  release tx: what a node sends today) and once with both caps lifted in this process only
                  (the whole round's shares in one extension: the demand the caps spread over heights).
  Verify          release.verify_extension (app.verify_vote_extension) of each of those extensions.
  sizes           every validator's whole-round extension bytes and the uncapped release tx (all validators'
                  shares merged: RELEASE_PREFIX + ShareRelease), computed exactly with the chain's own
                  encoder: a ShareRelease's bytes are the sum of its entries' bytes, and an entry's size
                  depends only on (model, round, seq, validator index, share length 32 * c_i), never on
                  the share's value. Checked against the real extensions measured above (asserted equal).
  heights         how many heights the release takes with today's caps: each height's release tx carries
                  the first 1024 pending (seq, validator) slots within 512 KiB (release_tx's order), and an
                  update leaves the queue once its released shares reach the threshold (it opens). For the
                  4 x 10 set the release is then really driven to the end
                  through extend_vote, verify_vote_extension, prepare/process_proposal and FinalizeBlock,
                  and the heights and bytes it took are printed next to the prediction.
  open            per update, as release.try_open runs it once enough shares are on chain: reconstruct
                  (deterministic subset, Lagrange, H(K)) + open_update (AES-GCM) + verify_all_shares (one
                  X25519 + HKDF + AES-GCM per sealing-set member), on a sample of the round's updates with
                  every member's share decrypted (decode_envelope timed apart). Lagrange weights are warm
                  after the first update, as within a round. Median per update, and x N for the round.

Caps compared: CometBFT v0.38's MaxVoteExtensionSize (types/vote.go, 1 MiB, enforced when an extended
commit is validated) and its consensus reactor's p2p message cap (maxMsgSize, 1 MiB per vote message,
extension included), the block's max_bytes (`cometbft init`'s default 22,020,096; the node leaves it;
CometBFT's ceiling MaxBlockSizeBytes 100 MB), the chain's own MAX_RELEASE_BYTES / MAX_RELEASED_PER_TX,
auth max_tx_bytes (config/local.toml; mempool txs only: the release tx is injected by PrepareProposal),
and the rounds param max_submissions_per_round. The CometBFT numbers are read from the pinned module's Go
source when it is in the Go module cache, else the values above are used.

    .venv/bin/python bench/round_10k.py            # N = 10,000 for every set (about 10 minutes here)
    .venv/bin/python bench/round_10k.py --quick    # N = 1,000, scaled (about 70 s)

--quick builds N = 1,000 updates. Byte figures are still exact for 10,000 (the size computation above is
exact for any N, and is checked against the real 1,000-update extensions); times per validator scale
linearly to 10,000 (x 10: ExtendVote and VerifyVoteExtension do the same work per pending update, the
sealing set fixed), and open time is per update anyway. The scaling is printed with the figures.

Last lines: `ratio release_bytes_per_validator_1e4_updates_20v` and `_100v` (the mean over the 20 and 100
validators of the scaled sets), then, last, `ratio release_bytes_per_validator_1e4_updates VALUE`, VALUE = a
validator's extension bytes for the whole 10,000-update round in the 4 x 10 set (no caps). The baseline the issue sets is 1 KB per validator
per round (docs/sealing.md section 15 item 7); the ratio to it is printed too.
"""
from __future__ import annotations

import argparse
import base64
import bisect
import hashlib
import os
import re
import statistics
import sys
import time
import tomllib
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

import round_close as rc  # noqa: E402  (BenchChain, the digits model, registration)
from chain.rounds import release  # noqa: E402
from chain.rounds.messages import MsgSubmitUpdate  # noqa: E402
from chain.rounds.params import RoundsParams  # noqa: E402
from chain.sealing.envelope import decode_envelope, seal_context  # noqa: E402
from chain.sealing.field import lagrange_at_zero  # noqa: E402
from chain.sealing.open import decrypt_share, open_update, reconstruct, verify_all_shares  # noqa: E402
from chain.sealing.valset import share_plan  # noqa: E402
from chain.store.kv import MemoryKV  # noqa: E402
from chain.tx.address import to_bech32  # noqa: E402
from chain.validators.keeper import BONDED_POOL, consensus_address  # noqa: E402
from client.seal import seal  # noqa: E402
from client.trainer import sealing_set  # noqa: E402
from client.wallet import Wallet  # noqa: E402
from chain.rounds import keeper  # noqa: E402

SETS = {
    "4 x 10": [10] * 4,
    "20 scaled": [(i * 7919 % 97 + 3) * 10**6 for i in range(20)],
    "100 scaled": [(i * 7919 % 97 + 3) * 10**6 for i in range(100)],
}
SUFFIX = {"4 x 10": "", "20 scaled": "_20v", "100 scaled": "_100v"}
TARGET = 10_000
UPDATE_BYTES = 300
TRAINERS = [Wallet.from_seed(hashlib.sha256(b"round-10k trainer %d" % i).digest()) for i in range(100)]
TXS_PER_BLOCK = 500
POWER_REDUCTION = 10**6
BLOCK_SECONDS = 1.0                       # config/local.toml timeout_commit
KB_TARGET = 1000                          # the goal: <= 1 KB of extension per validator per round


# --- CometBFT's and the chain's caps ------------------------------------------------------------------
def cometbft_limits() -> dict:
    """The pinned CometBFT's caps, from its Go source in the module cache when present."""
    limits = {"MaxVoteExtensionSize": 1 << 20, "consensus maxMsgSize": 1 << 20,
              "block max_bytes (cometbft init default)": 22_020_096, "MaxBlockSizeBytes": 104_857_600,
              "source": "built-in values"}
    mod = Path(os.environ.get("GOMODCACHE", Path.home() / "go/pkg/mod")) / "github.com/cometbft/cometbft@v0.38.25"
    patterns = {"MaxVoteExtensionSize": ("types/vote.go", r"MaxVoteExtensionSize\s+int\s*=\s*([\d\s*]+)"),
                "consensus maxMsgSize": ("consensus/reactor.go", r"maxMsgSize\s*=\s*(\d+)"),
                "block max_bytes (cometbft init default)": ("types/params.go", r"MaxBytes:\s*(\d+)"),
                "MaxBlockSizeBytes": ("types/params.go", r"MaxBlockSizeBytes\s*=\s*(\d+)")}
    if mod.is_dir():
        for name, (path, pattern) in patterns.items():
            m = re.search(pattern, (mod / path).read_text())
            if m:
                limits[name] = eval(m.group(1).strip(), {})   # noqa: S307 - a Go integer literal like 1024 * 1024
        limits["source"] = str(mod)
    return limits


def local_max_tx_bytes() -> int:
    return tomllib.loads(Path(ROOT, "config/local.toml").read_text())["auth"]["max_tx_bytes"]


# --- genesis and the round ----------------------------------------------------------------------------
def keys_for(n: int):
    x25519 = [hashlib.sha256(b"round-10k x25519 %d" % i).digest() for i in range(n)]
    consensus = [hashlib.sha256(b"round-10k consensus %d" % i).digest() for i in range(n)]  # stands in for Ed25519
    operators = [Wallet.from_seed(hashlib.sha256(b"round-10k operator %d" % i).digest()) for i in range(n)]
    return x25519, consensus, operators


def genesis(powers: list[int], n_updates: int) -> dict:
    x25519, consensus, operators = keys_for(len(powers))
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    bonds = [p * POWER_REDUCTION for p in powers]
    balances = [{"address": rc.OWNER.address, "coins": [{"denom": rc.DENOM, "amount": str(10**15)}]},
                {"address": to_bech32(BONDED_POOL), "coins": [{"denom": rc.DENOM, "amount": str(sum(bonds))}]}]
    balances += [{"address": t.address, "coins": [{"denom": rc.DENOM, "amount": str(10**13)}]} for t in TRAINERS]
    return {
        "auth": {"params": rc.AUTH},
        "bank": {"balances": sorted(balances, key=lambda b: b["address"])},
        "validators": {"params": {"max_validators": 100, "power_reduction": POWER_REDUCTION},
                       "validators": [
            {"operator": op.address, "consensus_pubkey": b64(consensus[i]),
             "encryption_pubkey": b64(rc._x25519_public(x25519[i])), "bond": str(bonds[i]), "status": "active"}
            for i, op in enumerate(operators)]},
        "registry": {"params": {"max_params": 1_000_000, "max_chunk_bytes": 262_144, "max_shards": 4096,
                                "max_shard_samples": 64, "scoring_work_per_block": rc.LOCAL_BUDGET,
                                "fee_per_work_unit": 1}},
        "rounds": {"params": {"max_submissions_per_round": n_updates, "max_payload_bytes": 700_000,
                              "max_total_shares": 256,
                              "max_submissions_per_submitter": -(-n_updates // len(TRAINERS))}},
    }


class Round:
    """A chain with one model whose round 0 holds n sealed updates, stopped at the round's closing height."""

    def __init__(self, set_name: str, n: int, data):
        powers = SETS[set_name]
        self.set_name, self.n = set_name, n
        t0 = time.perf_counter()
        self.chain = rc.BenchChain(MemoryKV(), genesis(powers, n), check_invariants=False)
        blocks = -(-n // TXS_PER_BLOCK)
        self.model_id = rc.register(self.chain, data, round_blocks=blocks + 4, reveal_blocks=50_000)
        info = self.chain.round_info(self.model_id, 0)
        start, self.end = info["window_start"], info["window_end"]
        self.chain.until(start - 1, "wait")
        vals = sealing_set(info)
        self.plan = share_plan(vals, max_total_shares=info["max_total_shares"])
        x25519, consensus, _ = keys_for(len(powers))
        by_pubkey = {rc._x25519_public(k): (k, consensus_address(c)) for k, c in zip(x25519, consensus)}
        self.private = {i: by_pubkey[pk][0] for i, pk, _ in vals}     # sealing-set index -> X25519 key
        self.address = {i: by_pubkey[pk][1] for i, pk, _ in vals}     # sealing-set index -> consensus address
        self.pubkeys = {i: pk for i, pk, _ in vals}
        t_seal = 0.0
        seqs = [0] * len(TRAINERS)
        for b in range(blocks):
            txs = []
            for k in range(b * TXS_PER_BLOCK, min(n, (b + 1) * TXS_PER_BLOCK)):
                who = k % len(TRAINERS)
                trainer = TRAINERS[who]
                update = hashlib.shake_256(b"round-10k update %d" % k).digest(UPDATE_BYTES)
                s0 = time.perf_counter()
                envelope = seal(update, vals, seal_context(rc.CHAIN_ID, self.model_id, 0, trainer.address_bytes),
                                max_total_shares=info["max_total_shares"]).encode()
                t_seal += time.perf_counter() - s0
                msg = MsgSubmitUpdate(model_id=self.model_id, round=0, parent_version=0, envelope=envelope)
                txs.append(self.chain.sign(trainer, msg, seq=seqs[who]))
                seqs[who] += 1
            self.chain.block(txs, "submit")
        self.envelope_bytes = len(envelope)
        assert self.chain.round_info(self.model_id, 0)["submissions"] == n
        self.chain.until(self.end - 1, "wait")      # the window's last block is committed: release at `end`
        self.build_seconds, self.seal_seconds = time.perf_counter() - t0, t_seal

    @property
    def state(self):
        return self.chain.app.store

    def entries(self) -> list[tuple[int, int]]:
        return list(self.plan.entries())


# --- exact sizes from the chain's encoder -----------------------------------------------------------------
def share_entry_bytes(model_id: int, seq: int, index: int, count: int) -> int:
    """Bytes one released share vector adds to a ShareRelease (tag, length prefix, the ReleasedShare): the
    encoder's own output for a one-entry release; repeated fields concatenate, so a release's bytes are
    the sum of its entries'."""
    share = release.ReleasedShare(model_id=model_id, round=0, seq=seq, validator_index=index, share=bytes(32 * count))
    return len(release.ShareRelease(shares=(share,)).encode())


def _seq_groups(n: int):
    """(representative seq, how many seqs) with the same varint length, for seq in 0..n-1 (0 is omitted)."""
    edges = [0, 1, 128, 1 << 14, 1 << 21, 1 << 28]
    for lo, hi in zip(edges, edges[1:]):
        if lo < n:
            yield lo, min(hi, n) - lo


def whole_round_bytes(model_id: int, n: int, entries) -> dict[int, int]:
    """Validator index -> its extension bytes carrying its shares of all n updates (no caps)."""
    return {index: sum(k * share_entry_bytes(model_id, seq, index, count) for seq, k in _seq_groups(n))
            for index, count in entries}


def share_entry_cost(model_id: int, seq: int, index: int, count: int) -> int:
    """What `extension` and `release_tx` count against MAX_RELEASE_BYTES for one share vector: the
    ReleasedShare's bytes plus release._SHARE_FRAMING."""
    share = release.ReleasedShare(model_id=model_id, round=0, seq=seq, validator_index=index, share=bytes(32 * count))
    return len(share.encode()) + release._SHARE_FRAMING


def release_with_caps(model_id: int, n: int, entries, threshold: int) -> dict:
    """The release of n updates under today's caps, in CometBFT's order, predicted from the chain's packing
    rules (release.extension, release.release_tx) without decrypting anything:

    * ExtendVote(h) runs on the state committed at h - 1: each validator's oldest pending share vectors
      (by seq), at most MAX_RELEASED_PER_TX, their counted bytes at most MAX_RELEASE_BYTES;
    * block h + 1's release tx takes, in (seq, validator index) order, the first pending share vectors of
      those extensions not yet on chain, under the same two caps; an update whose released shares reach
      the threshold opens in that block and leaves every later extension (a release tx carries all the
      members' shares of an update it reaches, since the extensions cannot know it will open).

    So the release tx of block end + i is the next slots after those of end + i - 1, and the extensions of
    heights end and end + 1 both see the state before any release. Assumes each validator's extension
    reaches past the next release tx's slots (true here: hundreds of updates each, against 1024 / holders
    updates per release tx; the 4 x 10 drain checks the prediction against the chain). Returns the release
    txs' count and largest size, and each validator's extension bytes summed over every height."""
    starts = [lo for lo, _ in _seq_groups(n)]
    groups = list(_seq_groups(n))
    exact = [[share_entry_bytes(model_id, seq, index, count) for seq, _ in groups] for index, count in entries]
    cost = [[share_entry_cost(model_id, seq, index, count) for seq, _ in groups] for index, count in entries]
    group = lambda seq: bisect.bisect_right(starts, seq) - 1  # noqa: E731
    cap_n, cap_b = release.MAX_RELEASED_PER_TX, release.MAX_RELEASE_BYTES

    def extension_bytes(j: int, first: int, partial: int) -> int:
        """Entry j's extension on a state where updates < first are open and `partial` entries of update
        `first` are on chain (every later update untouched)."""
        seq = first + 1 if partial > j else first
        count = budget = out = 0
        for g, (lo, size) in enumerate(groups):
            a, b = max(seq, lo), lo + size
            if a >= b:
                continue
            take = min(b - a, cap_n - count, (cap_b - budget) // cost[j][g])
            count, budget, out = count + take, budget + take * cost[j][g], out + take * exact[j][g]
            if take < b - a:
                break
        return out

    first, partial, released_first = 0, 0, 0     # state: updates < first open; `partial` entries of `first` out
    sent = [2 * extension_bytes(j, 0, 0) for j in range(len(entries))]   # heights end and end + 1
    releases, largest = 0, 0
    while first < n:
        shares = budget = size = 0
        seq, j, got = first, partial, released_first
        while seq < n and shares < cap_n:
            c = cost[j][group(seq)]
            if budget + c > cap_b:
                break
            shares, budget, size = shares + 1, budget + c, size + exact[j][group(seq)]
            got += entries[j][1]
            j += 1
            if j == len(entries):          # every member's shares of this update are in (all members release)
                assert got >= threshold, "every share of an update released, still below its threshold"
                seq, j, got = seq + 1, 0, 0
        if j and got >= threshold:         # the last update reached its threshold: it opens in this block
            seq, j, got = seq + 1, 0, 0
        first, partial, released_first = seq, j, got
        releases += 1
        largest = max(largest, len(release.RELEASE_PREFIX) + size)
        if first < n:                      # the next height's extensions see this state
            for k in range(len(entries)):
                sent[k] += extension_bytes(k, first, partial)
    return {"releases": releases, "largest": largest, "sent": dict(zip([i for i, _ in entries], sent))}


# --- measurements on the committed state ---------------------------------------------------------------
class lifted_caps:
    """Both release caps lifted, in this process only: one extension carries the whole round."""

    def __enter__(self):
        self.saved = release.MAX_RELEASED_PER_TX, release.MAX_RELEASE_BYTES
        release.MAX_RELEASED_PER_TX, release.MAX_RELEASE_BYTES = 1 << 40, 1 << 40

    def __exit__(self, *exc):
        release.MAX_RELEASED_PER_TX, release.MAX_RELEASE_BYTES = self.saved


def vote(r: Round, index: int) -> dict:
    app, height = r.chain.app, r.end
    t0 = time.perf_counter()
    ext = app.extend_vote(height, r.private[index])
    t1 = time.perf_counter()
    assert app.verify_vote_extension(height, r.address[index], ext)
    t2 = time.perf_counter()
    return {"bytes": len(ext), "shares": len(release.decode_release(ext).shares) if ext else 0,
            "extend": t1 - t0, "verify": t2 - t1}


def open_times(r: Round, sample: int) -> dict:
    """reconstruct + open_update + verify_all_shares per update, every member's share decrypted (untimed)."""
    from chain.sealing.envelope import seal_context as ctx_of
    times, decode = [], []
    lagrange_at_zero.cache_clear()
    first = None
    step = max(1, r.n // sample)
    for seq in range(0, r.n, step)[:sample]:
        raw = keeper.get_envelope(r.state, r.model_id, 0, seq)
        t0 = time.perf_counter()
        envelope = decode_envelope(raw, max_payload_bytes=1 << 62)
        decode.append(time.perf_counter() - t0)
        released = {e.validator_index: decrypt_share(r.private[e.validator_index], envelope, e.validator_index)
                    for e in envelope.shares}
        sub = keeper.get_submission(r.state, r.model_id, 0, seq)
        context = ctx_of(rc.CHAIN_ID, r.model_id, 0, bytes.fromhex(sub["submitter"]))
        t0 = time.perf_counter()
        key = reconstruct(envelope, released)
        t1 = time.perf_counter()
        open_update(envelope, key, context)
        t2 = time.perf_counter()
        verify_all_shares(envelope, key, r.pubkeys)
        t3 = time.perf_counter()
        if first is None:
            first = t3 - t0
            continue                                   # the cold Lagrange weights: reported apart
        times.append((t1 - t0, t2 - t1, t3 - t2))
    parts = [statistics.median(p[i] for p in times) for i in range(3)]
    return {"reconstruct": parts[0], "open_update": parts[1], "verify_all_shares": parts[2],
            "total": statistics.median(sum(p) for p in times), "cold": first,
            "decode": statistics.median(decode), "sample": len(times) + 1}


def drain(r: Round) -> dict:
    """Drive the release to its end with today's caps, in CometBFT's order: the precommits for block h carry
    ExtendVote(h) on the state committed at h - 1 (each checked by VerifyVoteExtension), and block h + 1
    carries the proposer's release tx built from them (PrepareProposal, ProcessProposal), applied in
    FinalizeBlock, which opens what reached the threshold."""
    chain, releases, largest = r.chain, 0, 0
    ext_bytes = {i: 0 for i in r.private}

    def votes(height: int) -> list[tuple[bytes, bytes]]:
        exts = []
        for index, key in r.private.items():
            ext = chain.app.extend_vote(height, key)
            assert chain.app.verify_vote_extension(height, r.address[index], ext)
            ext_bytes[index] += len(ext)
            exts.append((r.address[index], ext))
        return exts

    t0 = time.perf_counter()
    exts = votes(chain.height + 1)
    chain.block([], "end")
    while True:
        height = chain.height + 1
        txs = chain.app.prepare_proposal(height, [], exts)
        assert chain.app.process_proposal(height, txs)
        exts = votes(height)                     # before block `height` is finalized: state height - 1
        if not txs and not any(e for _, e in exts):
            break
        if txs:
            assert release.is_release(txs[0])
            largest = max(largest, len(txs[0]))
            releases += 1
        chain.block(txs, "release")
    subs = chain.round_info(r.model_id, 0)["submission_list"]
    assert all(s["status"] != "sealed" for s in subs), "updates still sealed after the release drained"
    return {"releases": releases, "ext_bytes": ext_bytes, "largest_tx": largest, "seconds": time.perf_counter() - t0}


def measure(set_name: str, n: int, data, sample: int, run_drain: bool) -> dict:
    r = Round(set_name, n, data)
    entries = r.entries()
    counts = dict(entries)
    most = max(entries, key=lambda e: (e[1], -e[0]))[0]
    fewest = min(entries, key=lambda e: (e[1], e[0]))[0]
    measured = [most] if most == fewest or len(set(counts.values())) == 1 else [most, fewest]
    capped = {i: vote(r, i) for i in measured}
    with lifted_caps():
        uncapped = {i: vote(r, i) for i in measured}
    exact_n = whole_round_bytes(r.model_id, n, entries)
    for i in measured:   # the size computation is the encoder's: it must match the real extension byte for byte
        assert exact_n[i] == uncapped[i]["bytes"], (i, exact_n[i], uncapped[i]["bytes"])
        assert uncapped[i]["shares"] == n
    exact = whole_round_bytes(r.model_id, TARGET, entries)
    validators = len(SETS[set_name])
    caps = release_with_caps(r.model_id, TARGET, entries, r.plan.threshold)
    out = {
        "set": set_name, "n": n, "validators": validators, "holders": len(entries),
        "shares": r.plan.total_shares, "threshold": r.plan.threshold, "counts": counts,
        "envelope_bytes": r.envelope_bytes, "build": r.build_seconds, "seal": r.seal_seconds,
        "measured": measured, "capped": capped, "uncapped": uncapped,
        "per_validator_mean": sum(exact.values()) / validators, "per_validator_max": max(exact.values()),
        "per_validator_min": min(exact.values()),
        "release_tx": len(release.RELEASE_PREFIX) + sum(exact.values()),
        "heights": caps["releases"], "largest_capped_tx": caps["largest"],
        "sent_mean": sum(caps["sent"].values()) / validators, "sent_max": max(caps["sent"].values()),
        "open": open_times(r, sample),
    }
    if run_drain:
        out["drain"] = drain(r)
        out["drain_predicted"] = release_with_caps(r.model_id, n, entries, r.plan.threshold)
        out["drain_exact"] = sum(exact_n.values())
    return out


# --- report ------------------------------------------------------------------------------------------
def kib(n: float) -> str:
    return f"{n / 1024:,.1f} KiB" if n < 1 << 20 else f"{n / (1 << 20):,.2f} MiB"


def report(results: list[dict], scale: float, limits: dict, max_tx: int) -> None:
    rp = RoundsParams()
    print(f"\ncaps ({limits['source']}):")
    for name in ("MaxVoteExtensionSize", "consensus maxMsgSize", "block max_bytes (cometbft init default)",
                 "MaxBlockSizeBytes"):
        print(f"  CometBFT {name:<40} {limits[name]:>12,} bytes")
    print(f"  chain release.MAX_RELEASE_BYTES              {release.MAX_RELEASE_BYTES:>12,} bytes (extension and release tx)")
    print(f"  chain release.MAX_RELEASED_PER_TX            {release.MAX_RELEASED_PER_TX:>12,} share vectors")
    print(f"  chain auth max_tx_bytes (config/local.toml)  {max_tx:>12,} bytes (mempool txs; not the release tx)")
    print(f"  rounds max_submissions_per_round (default)   {rp.max_submissions_per_round:>12,} updates "
          f"(max_submissions_per_submitter {rp.max_submissions_per_submitter}); no ceiling beyond a positive integer")
    scaled = f" (x {scale:g}: built {results[0]['n']:,}, scaled to {TARGET:,})" if scale != 1 else ""
    print(f"\nper 10,000-update round{scaled}; bytes are exact for 10,000 at any N")
    print(f"{'set':>10} {'shares/t':>9} {'envelope':>9} | {'ext/validator (no caps)':>32} | {'release tx':>11} | "
          f"{'heights':>7} {'at 1 s':>7} | {'ExtendVote s':>14} {'Verify s':>14} | {'open ms/upd':>11} {'x 1e4 s':>8}")
    print(f"{'':>10} {'':>9} {'bytes':>9} | {'mean':>10} {'max':>10} {'min':>10} | {'no caps':>11} | "
          f"{'(caps)':>7} {'':>7} | {'most / fewest':>14} {'most / fewest':>14} | {'':>11} {'':>8}")
    for r in results:
        ext = "/".join(f"{r['uncapped'][i]['extend'] * scale:.1f}" for i in r["measured"])
        ver = "/".join(f"{r['uncapped'][i]['verify'] * scale:.1f}" for i in r["measured"])
        print(f"{r['set']:>10} {r['shares']:>4}/{r['threshold']:<4} {r['envelope_bytes']:>9,} | "
              f"{kib(r['per_validator_mean']):>10} {kib(r['per_validator_max']):>10} {kib(r['per_validator_min']):>10} | "
              f"{kib(r['release_tx']):>11} | {r['heights']:>7,} {r['heights'] * BLOCK_SECONDS / 60:>5.0f} m | "
              f"{ext:>14} {ver:>14} | {r['open']['total'] * 1e3:>11.2f} {r['open']['total'] * TARGET:>8.1f}")
    print("\nper validator with today's caps (one height's extension, measured at the closing height):")
    for r in results:
        for i in r["measured"]:
            c, u = r["capped"][i], r["uncapped"][i]
            print(f"  {r['set']:>10} validator {i:>3} ({r['counts'][i]:>3} shares): capped {c['shares']:>5} share vectors, "
                  f"{kib(c['bytes']):>10}, ExtendVote {c['extend'] * 1e3:7.0f} ms, Verify {c['verify'] * 1e3:7.0f} ms | "
                  f"whole round ({u['shares']:,} updates built): {kib(u['bytes'])}, ExtendVote {u['extend']:.2f} s, "
                  f"Verify {u['verify']:.2f} s")
    print("\nper node and height with today's caps (a node checks every validator's extension: VerifyVoteExtension "
          "x validators, measured capped extensions, + its own ExtendVote), against the 1 s block interval:")
    for r in results:
        verify = statistics.mean(r["capped"][i]["verify"] for i in r["measured"])
        extend = max(r["capped"][i]["extend"] for i in r["measured"])
        per_height = r["validators"] * verify + extend
        print(f"  {r['set']:>10}: {r['validators']} x {verify * 1e3:.0f} ms + {extend * 1e3:.0f} ms = {per_height:.1f} s "
              f"per height ({per_height / BLOCK_SECONDS:.1f}x the interval), for {r['heights']:,} heights"
              + (f" (capped extensions of {r['n']:,} built updates hold at most {r['n']:,} share vectors: x "
                 f"{min(release.MAX_RELEASED_PER_TX, TARGET) / r['n']:.2f} at 10,000)" if r["n"] < release.MAX_RELEASED_PER_TX else ""))
    print("\nopen per update (median; reconstruct + open_update + verify_all_shares; decode apart; first update cold):")
    for r in results:
        o = r["open"]
        print(f"  {r['set']:>10}: {o['total'] * 1e3:.2f} ms = reconstruct {o['reconstruct'] * 1e3:.2f} + open_update "
              f"{o['open_update'] * 1e3:.3f} + verify_all_shares {o['verify_all_shares'] * 1e3:.2f}; decode "
              f"{o['decode'] * 1e3:.3f} ms; cold first {o['cold'] * 1e3:.1f} ms ({o['sample']} updates)")
    print("\nagainst the caps (no caps = the whole round in one extension / one release tx):")
    for r in results:
        mx = r["per_validator_max"]
        print(f"  {r['set']:>10}: largest extension {mx / limits['MaxVoteExtensionSize']:.1f}x CometBFT's "
              f"MaxVoteExtensionSize, {mx / release.MAX_RELEASE_BYTES:.1f}x the chain's cap; release tx "
              f"{r['release_tx'] / limits['block max_bytes (cometbft init default)']:.2f}x the default block max_bytes, "
              f"{r['release_tx'] / release.MAX_RELEASE_BYTES:.0f}x the chain's cap. With the caps: "
              f"{r['heights']:,} heights of release txs (largest {kib(r['largest_capped_tx'])}), "
              f"{r['heights'] * BLOCK_SECONDS / 60:.0f} minutes at {BLOCK_SECONDS:g} s blocks")
    print("\nwith today's caps, bytes each validator actually sends over the round's heights (predicted): an "
          "extension repeats its oldest pending shares until a release tx carries them, one height late")
    for r in results:
        print(f"  {r['set']:>10}: mean {kib(r['sent_mean'])}, max {kib(r['sent_max'])} per validator "
              f"({r['sent_mean'] / r['per_validator_mean']:.1f}x one uncapped extension)")
    for r in results:
        if "drain" in r:
            d, p = r["drain"], r["drain_predicted"]
            print(f"  {r['set']:>10} drained for real at N = {r['n']:,}: {d['releases']} release txs "
                  f"(predicted {p['releases']}), largest {kib(d['largest_tx'])} (predicted {kib(p['largest'])}), "
                  f"extension bytes over all heights {kib(sum(d['ext_bytes'].values()))} "
                  f"(predicted {kib(sum(p['sent'].values()))}; one uncapped extension each: {kib(r['drain_exact'])}), "
                  f"{d['seconds']:.0f} s in process")
    print()
    print("(x the 1 KB goal: " + ", ".join(f"{r['set']} {r['per_validator_mean'] / KB_TARGET:,.0f}x"
                                           for r in results) + ")")
    # the 4-validator figure last: it is the headline
    for r in sorted(results, key=lambda r: SUFFIX[r["set"]] == ""):
        print(f"ratio release_bytes_per_validator_1e4_updates{SUFFIX[r['set']]} {r['per_validator_mean']:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 updates per set, scaled to 10,000")
    parser.add_argument("--updates", type=int, default=None, help="updates to build per set")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--open-sample", type=int, default=None)
    parser.add_argument("--no-drain", action="store_true", help="skip driving the release to its end")
    args = parser.parse_args()
    n = args.updates or (1_000 if args.quick else TARGET)
    sample = args.open_sample or (30 if args.quick else 200)
    limits, max_tx = cometbft_limits(), local_max_tx_bytes()
    data = rc.make_data(0, 50)
    print(f"round of {n:,} sealed updates of {UPDATE_BYTES} bytes; {os.cpu_count()} CPUs; sets: {', '.join(args.sets)}")
    results = []
    for set_name in args.sets:
        run_drain = not args.no_drain and set_name == "4 x 10"   # others: hours of decryption in one process
        t0 = time.perf_counter()
        r = measure(set_name, n, data, sample, run_drain)
        print(f"  {set_name}: built in {r['build']:.0f} s (sealing {r['seal']:.0f} s), measured in "
              f"{time.perf_counter() - t0 - r['build']:.0f} s", flush=True)
        results.append(r)
    report(results, TARGET / n, limits, max_tx)


if __name__ == "__main__":
    main()
