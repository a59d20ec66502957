"""Cost of sealing and opening an update, as a ratio to raw AES-256-GCM on the same bytes in the same run.

For each update size and validator set, every round times, interleaved:
  raw-enc    AESGCM(key).encrypt of the update (the baseline for sealing)
  seal       client.seal.seal + encode: fresh key, Shamir split, one X25519 + HKDF + AES-GCM per validator,
             HMAC plaintext commitment, AES-GCM of the update, canonical bytes
  raw-dec    AESGCM(key).decrypt of that ciphertext (the baseline for opening)
  open       what block execution runs: decode_envelope + reconstruct (commitment checks, Lagrange over
             `threshold` shares, H(K) check) + open_update (AES-GCM decrypt, HMAC check)
Also per round, size-independent: one validator's decrypt_share (X25519 + HKDF + AES-GCM + commitment),
and reconstruct alone with the Lagrange weights memoized (the steady state within a round; `open` clears
that cache first, so it pays the weights like the first update of a round). Ratios are medians of
per-round ratios; MB/s and ms are medians too (1 MB = 10**6 bytes). "+bytes" is the envelope's size
beyond the update's.

Validator sets: "4 x 10" is the local testnet (4 validators of power 10: 40 shares, threshold 30);
"20 scaled" is 20 validators with uneven large powers, scaled to at most 256 shares.

    .venv/bin/python bench/sealing.py            # 100 KB, 1 MB, 8 MB; 4 and 20 validators
    .venv/bin/python bench/sealing.py --quick    # the same sizes, fewer rounds

Last lines, `ratio NAME VALUE` with VALUE = our throughput / raw AES-GCM throughput (the median over rounds
of raw time / our time): seal_8mb_vs_aes_gcm, open_8mb_vs_aes_gcm, seal_1mb_vs_aes_gcm, open_1mb_vs_aes_gcm
for the 4-validator set, and the same names with a _20v suffix for the 20 uneven validators.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402

from chain.sealing.envelope import decode_envelope, seal_context
from chain.sealing.open import decrypt_share, open_update, reconstruct
from chain.sealing.valset import share_plan
from chain.sealing.field import lagrange_at_zero  # noqa: E402
from client.seal import seal  # noqa: E402


def validator_set(powers: list[int]):
    privates = [hashlib.sha256(b"bench validator %d" % i).digest() for i in range(len(powers))]
    publics = [X25519PrivateKey.from_private_bytes(k).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
               for k in privates]
    return [(i, publics[i], p) for i, p in enumerate(powers)], privates


SETS = {
    "4 x 10": [10] * 4,
    "20 scaled": [(i * 7919 % 97 + 3) * 10**6 for i in range(20)],
}
CONTEXT = seal_context("bench-1", 1, 1, b"\x11" * 20)


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bench(size: int, set_name: str, rounds: int) -> dict:
    vals, privates = validator_set(SETS[set_name])
    plan = share_plan(vals)
    plaintext = os.urandom(size)
    key, nonce = os.urandom(32), bytes(12)
    raw = seal(plaintext, vals, CONTEXT).encode()                                  # warm-up
    runs = {k: [] for k in ("raw-enc", "seal", "raw-dec", "open", "share", "rebuild")}
    for _ in range(rounds):
        t, ct = timed(lambda: AESGCM(key).encrypt(nonce, plaintext, b""))
        runs["raw-enc"].append(t)
        t, raw = timed(lambda: seal(plaintext, vals, CONTEXT).encode())
        runs["seal"].append(t)
        t, _ = timed(lambda: AESGCM(key).decrypt(nonce, ct, b""))
        runs["raw-dec"].append(t)
        envelope = decode_envelope(raw)
        released = {}
        for entry in envelope.shares:
            t, released[entry.validator_index] = timed(
                lambda e=entry: decrypt_share(privates[e.validator_index], envelope, e.validator_index))
            runs["share"].append(t)
        lagrange_at_zero.cache_clear()  # the first update of a round pays for the Lagrange weights
        t, opened = timed(lambda: _open(raw, released))
        runs["open"].append(t)
        assert opened == plaintext
        t, _ = timed(lambda: reconstruct(envelope, released))
        runs["rebuild"].append(t)
    med = {k: statistics.median(v) for k, v in runs.items()}
    ratio = {k: statistics.median(a / b for a, b in zip(runs[k], runs[base]))
             for k, base in (("seal", "raw-enc"), ("open", "raw-dec"))}
    speed = {k: statistics.median(b / a for a, b in zip(runs[k], runs[base]))
             for k, base in (("seal", "raw-enc"), ("open", "raw-dec"))}
    return {"size": size, "set": set_name, "shares": plan.total_shares, "threshold": plan.threshold,
            "overhead": len(raw) - size, "med": med, "ratio": ratio, "speed": speed}


def _open(raw: bytes, released: dict[int, bytes]) -> bytes:
    envelope = decode_envelope(raw)
    return open_update(envelope, reconstruct(envelope, released), CONTEXT)


def mbps(size: int, seconds: float) -> str:
    return f"{size / seconds / 1e6:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    sizes = [100_000, 1_000_000, 8_000_000]
    headline = {}
    print(f"sealing vs raw AES-256-GCM, same bytes, same run; {os.cpu_count()} CPUs")
    print(f"{'set':>10} {'shares/t':>9} {'size':>6} {'+bytes':>6} | {'raw-enc':>8} {'seal':>7} {'seal':>6} "
          f"{'ratio':>7} | {'raw-dec':>8} {'open':>7} {'open':>6} {'ratio':>7} | {'share':>6} {'rebuild':>7}")
    print(f"{'':>10} {'':>9} {'':>6} {'':>6} | {'MB/s':>8} {'MB/s':>7} {'ms':>6} {'':>7} | {'MB/s':>8} {'MB/s':>7} "
          f"{'ms':>6} {'':>7} | {'ms':>6} {'ms warm':>7}")
    for set_name in SETS:
        for size in sizes:
            rounds = args.rounds or ((5 if size >= 8_000_000 else 9) if args.quick else
                                     (15 if size >= 8_000_000 else 41))
            r = bench(size, set_name, rounds)
            if size >= 1_000_000:
                suffix = "" if set_name == "4 x 10" else "_20v"
                for op in ("seal", "open"):
                    headline[f"{op}_{size // 1_000_000}mb_vs_aes_gcm{suffix}"] = r["speed"][op]
            m = r["med"]
            print(f"{set_name:>10} {r['shares']:>4}/{r['threshold']:<4} {size // 1000:>4}KB {r['overhead']:>6} | "
                  f"{mbps(size, m['raw-enc']):>8} {mbps(size, m['seal']):>7} {m['seal'] * 1e3:6.2f} "
                  f"{r['ratio']['seal']:6.1f}x | "
                  f"{mbps(size, m['raw-dec']):>8} {mbps(size, m['open']):>7} {m['open'] * 1e3:6.2f} "
                  f"{r['ratio']['open']:6.1f}x | {m['share'] * 1e3:6.3f} {m['rebuild'] * 1e3:7.2f}")
    print("(ratio columns: our time / raw time; headline ratios: our throughput / raw throughput)")
    for name in ("seal_8mb_vs_aes_gcm", "open_8mb_vs_aes_gcm", "seal_1mb_vs_aes_gcm", "open_1mb_vs_aes_gcm"):
        for full in (name, name + "_20v"):
            print(f"ratio {full} {headline[full]:.3f}")


if __name__ == "__main__":
    main()
