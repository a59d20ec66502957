"""Integer exp/log tables for the cross-entropy metric (spec version 1).

Generated, never hand-edited: `decimal` arithmetic is pure software with correctly rounded exp/ln,
so every machine builds the same integers; their SHA-256 is pinned below and checked on first use,
so a change to the generator cannot silently change scores (it needs a new spec version).

    EXP[i] = round_half_even(exp(-i / 2**EXP_STEP_BITS) * 2**ONE_BITS),  0 <= i < EXP_LEN, then EXP[EXP_LEN] = 0
    LOG[j] = round_half_even(ln(1 + j / 2**LOG_INDEX_BITS) * 2**ONE_BITS), 0 <= j < 2**LOG_INDEX_BITS
    LN2    = round_half_even(ln(2) * 2**ONE_BITS)
"""
from __future__ import annotations

import decimal
import hashlib
from functools import lru_cache

import numpy as np

ONE_BITS = 32          # tables are at scale 2**-32
EXP_STEP_BITS = 8      # exp is tabulated every 1/256 nat
EXP_LEN = 23 << EXP_STEP_BITS   # exp(-23) * 2**32 < 0.5: beyond this every entry would round to 0
LOG_INDEX_BITS = 12    # ln(1 + m) is looked up by the 12 bits below a sum's leading bit

TABLES_SHA256 = "f3dbb4bc5d87f6ce67847a906fdb1cf61ec85689b820a1d2506d8e908f5c8ebe"


def _round(value: decimal.Decimal) -> int:
    return int(value.to_integral_value(rounding=decimal.ROUND_HALF_EVEN))


def generate() -> tuple[np.ndarray, np.ndarray, int]:
    ctx = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)  # an explicit context: no global state
    one = decimal.Decimal(1 << ONE_BITS)
    exp = [_round(ctx.multiply(ctx.exp(decimal.Decimal(-i) / (1 << EXP_STEP_BITS)), one)) for i in range(EXP_LEN)]
    exp.append(0)  # the index every distance beyond the table maps to
    log = [_round(ctx.multiply(ctx.ln(ctx.add(1, decimal.Decimal(j) / (1 << LOG_INDEX_BITS))), one))
           for j in range(1 << LOG_INDEX_BITS)]
    ln2 = _round(ctx.multiply(ctx.ln(decimal.Decimal(2)), one))
    return np.array(exp, dtype=np.int64), np.array(log, dtype=np.int64), ln2


def tables_digest(exp: np.ndarray, log: np.ndarray, ln2: int) -> str:
    h = hashlib.sha256()
    for part in (exp.astype("<i8").tobytes(), log.astype("<i8").tobytes(), int(ln2).to_bytes(8, "little")):
        h.update(len(part).to_bytes(8, "little") + part)
    return h.hexdigest()


@lru_cache(maxsize=1)
def tables() -> tuple[np.ndarray, np.ndarray, int]:
    """The pinned tables (built once per process, read-only)."""
    exp, log, ln2 = generate()
    digest = tables_digest(exp, log, ln2)
    if digest != TABLES_SHA256:
        raise RuntimeError(f"cross-entropy tables hash {digest}, spec version 1 pins {TABLES_SHA256}")
    exp.flags.writeable = False
    log.flags.writeable = False
    return exp, log, ln2
