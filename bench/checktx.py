"""CheckTx cost per signed transfer, as a ratio over the bare Ed25519 verification of the same txs.

Three measurements over the same list of signed MsgSend txs, interleaved in every round so machine
noise hits them alike:
  verify    Ed25519PublicKey.from_public_bytes(pk).verify(sig, body): the unavoidable crypto (baseline)
  decode    chain.tx.envelope.decode_tx(raw): canonical decoding + stateless checks + the same verify
  checktx   chain.app.Application.check_tx(raw) on the in-memory store (chain.store.kv.MemoryKV)

Every check_tx sees a tx it has never seen: each round builds a fresh Application over the committed
genesis store (so its decoded-tx cache `_decoded` is empty and its mempool view is the genesis state),
and the txs are pairwise distinct (distinct (sender, sequence) pairs). The run asserts that every tx was
a cache miss and was accepted (code 0).

Ratios are computed per round (same round, same conditions) and the median is reported; absolute
microseconds are printed too, but only the ratios are comparable across machines.

    .venv/bin/python bench/checktx.py            # default, ~1 minute
    .venv/bin/python bench/checktx.py --quick    # smoke run, a few seconds
    .venv/bin/python bench/checktx.py --senders 1 --txs 2000   # one sender, sequences 0..1999
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402

from chain.app import _DECODED_CACHE_SIZE, Application  # noqa: E402
from chain.results import BlockContext  # noqa: E402
from chain.store.kv import MemoryKV  # noqa: E402
from chain.tx.envelope import Tx, TxBody, decode_tx  # noqa: E402
from chain.bank.messages import MsgSend  # noqa: E402
from client.txbuilder import coins, sign_tx  # noqa: E402
from client.wallet import Wallet  # noqa: E402

CHAIN_ID = "bench-1"
FEE = 2000  # above min_fee_base + min_fee_per_byte * len(tx) for these txs (~170 bytes)


def genesis_state(wallets: list[Wallet]) -> dict:
    """Same params as tests/chainutil.py; every sender funded well beyond what the run spends."""
    return {
        "auth": {"params": {"fee_denom": "ugrad", "min_fee_base": 10, "min_fee_per_byte": 1,
                            "max_tx_bytes": 4096}},
        "bank": {"balances": [{"address": w.address, "coins": [{"denom": "ugrad", "amount": "1000000000000"}]}
                              for w in wallets]},
    }


def committed_genesis(wallets: list[Wallet]) -> MemoryKV:
    """A store holding the committed genesis (height 1), like tests.chainutil.Chain does it."""
    kv = MemoryKV()
    app = Application(kv)
    app.init_chain(CHAIN_ID, 1, json.dumps(genesis_state(wallets)).encode())
    app.finalize_block(BlockContext(CHAIN_ID, 1, 1_700_000_001, 0, b"\x00" * 20), [])
    app.commit()
    return kv


def make_txs(senders: list[Wallet], n_txs: int, recipient: Wallet) -> list[bytes]:
    """Round-robin over the senders, each with sequences 0, 1, 2, ... in order: all valid in sequence."""
    txs = []
    seq = 0
    while len(txs) < n_txs:
        for w in senders:
            if len(txs) == n_txs:
                break
            msg = MsgSend(to_address=recipient.address_bytes, amount=coins({"ugrad": 1}))
            txs.append(sign_tx(w, CHAIN_ID, seq, [msg], "ugrad", FEE))
        seq += 1
    assert len(set(txs)) == len(txs), "txs must be pairwise distinct"
    return txs


def run_verify(parts) -> float:
    t0 = time.perf_counter()
    for pk, body, sig in parts:
        Ed25519PublicKey.from_public_bytes(pk).verify(sig, body)
    return time.perf_counter() - t0


def run_verify_preloaded(keyed) -> float:
    t0 = time.perf_counter()
    for key, body, sig in keyed:
        key.verify(sig, body)
    return time.perf_counter() - t0


def run_decode(txs) -> float:
    t0 = time.perf_counter()
    for raw in txs:
        decode_tx(raw)
    return time.perf_counter() - t0


def run_checktx(kv, txs) -> float:
    app = Application(kv)  # fresh: empty _decoded cache, mempool view = committed genesis
    assert not app._decoded
    check = app.check_tx
    t0 = time.perf_counter()
    results = [check(raw) for raw in txs]
    elapsed = time.perf_counter() - t0
    bad = [r for r in results if r.code != 0]
    assert not bad, f"{len(bad)} txs rejected, first: {bad[0].log}"
    # Fresh cache + pairwise-distinct txs: each check_tx decoded (and verified) its tx once.
    assert len(app._decoded) == min(len(txs), _DECODED_CACHE_SIZE), "every tx must be a cache miss"
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--txs", type=int, default=2000, help="txs per round (default 2000)")
    ap.add_argument("--senders", type=int, default=500,
                    help="distinct senders; txs go round-robin, sequences increase (default 500; 1 = one sender)")
    ap.add_argument("--rounds", type=int, default=40, help="interleaved measurement rounds (default 40)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 500 txs, 100 senders, 5 rounds")
    args = ap.parse_args()
    if args.quick:
        args.txs, args.senders, args.rounds = 500, min(args.senders, 100), 5
    senders = [Wallet.from_seed(i.to_bytes(32, "big")) for i in range(1, args.senders + 1)]
    recipient = Wallet.from_seed(b"\xee" * 32)

    t_setup = time.perf_counter()
    kv = committed_genesis(senders)
    txs = make_txs(senders, args.txs, recipient)
    parts = []
    for raw in txs:
        tx = Tx.decode(raw)
        parts.append((TxBody.decode(tx.body).public_key, tx.body, tx.signature))
    keyed = [(Ed25519PublicKey.from_public_bytes(pk), body, sig) for pk, body, sig in parts]
    t_setup = time.perf_counter() - t_setup
    print(f"checktx bench: {len(txs)} signed MsgSend txs ({sum(map(len, txs)) / len(txs):.0f} bytes avg), "
          f"{args.senders} sender(s), {args.rounds} rounds; setup {t_setup:.1f}s; python {sys.version.split()[0]}")

    # One untimed warm-up of each path (imports, first-call caches, allocator).
    run_verify(parts[:100]); run_verify_preloaded(keyed[:100]); run_decode(txs[:100]); run_checktx(kv, txs[:100])

    names = ("verify", "verify_preloaded", "decode", "checktx")
    per_round = {name: [] for name in names}
    for r in range(args.rounds):
        order = list(names) if r % 2 == 0 else list(reversed(names))  # alternate to spread drift evenly
        for name in order:
            gc.collect()
            if name == "verify":
                t = run_verify(parts)
            elif name == "verify_preloaded":
                t = run_verify_preloaded(keyed)
            elif name == "decode":
                t = run_decode(txs)
            else:
                t = run_checktx(kv, txs)
            per_round[name].append(t / len(txs) * 1e6)  # us per tx

    med = {name: statistics.median(v) for name, v in per_round.items()}
    mn = {name: min(v) for name, v in per_round.items()}

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(per_round[a], per_round[b]))

    print()
    print(f"{'path':<34}{'median us/tx':>14}{'min us/tx':>12}{'ratio vs verify':>18}")
    rows = (("verify (load key + verify) [base]", "verify"),
            ("verify, key preloaded", "verify_preloaded"),
            ("decode_tx (incl. verify)", "decode"),
            ("Application.check_tx", "checktx"))
    for label, name in rows:
        print(f"{label:<34}{med[name]:>14.1f}{mn[name]:>12.1f}{ratio(name, 'verify'):>17.2f}x")
    print()
    print(f"check_tx / decode_tx             : {ratio('checktx', 'decode'):.2f}x  "
          f"(state work: ante + bank send on overlays)")
    print(f"app overhead over crypto, per tx : {med['checktx'] - med['verify']:.1f} us "
          f"(decode/stateless {med['decode'] - med['verify']:.1f} us, state {med['checktx'] - med['decode']:.1f} us)")
    print(f"check_tx throughput (one core)   : {1e6 / med['checktx']:.0f} tx/s")
    print("ratios are medians of per-round ratios; each round re-measures all paths on the same txs")


if __name__ == "__main__":
    main()
