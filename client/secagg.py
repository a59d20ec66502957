"""A cohort member's side of secure aggregation (chain/secagg/masks.py; docs/privacy.md).

    member = new_member()                                       # fresh round key and self seed
    key_env, seed_env = join_envelopes(member, sealing_set, context, max_total_shares=...)  # sealed at join
    y = masked_update(member, index, cohort_pubkeys, ctx, delta_arrays)   # what goes on chain: x + masks

The only randomness of secure aggregation is here; everything the chain recomputes is in chain/secagg.
Both secrets are sealed to the validators (client/seal.py), and after the deadline the chain has exactly
one of them released: the self seed if the member's masked update is on chain, the round key if not.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from chain.secagg import masks
from client.seal import seal

__all__ = ["Member", "join_envelopes", "masked_update", "new_member", "encode_masked", "decode_masked",
           "secret_contexts"]


@dataclass(frozen=True)
class Member:
    round_private: bytes   # X25519 private key for this round only
    self_seed: bytes       # 32 bytes: the self mask's seed

    @property
    def round_public(self) -> bytes:
        return masks.public_key(self.round_private)


def new_member(random_bytes=os.urandom) -> Member:
    return Member(round_private=random_bytes(32), self_seed=random_bytes(masks.SEED_BYTES))


def join_envelopes(member: Member, validators: Iterable, context: bytes | tuple[bytes, bytes], *,
                   max_total_shares: int):
    """(round-key envelope, self-seed envelope), each the 32-byte secret sealed to the round's validators.
    `context`: one context for both, or (key context, seed context) as the chain checks them
    (`secret_contexts`)."""
    validators = list(validators)
    key_context, seed_context = context if isinstance(context, tuple) else (context, context)
    return (seal(member.round_private, validators, key_context, max_total_shares=max_total_shares),
            seal(member.self_seed, validators, seed_context, max_total_shares=max_total_shares))


def secret_contexts(chain_id: str, model_id: int, round_: int, address: bytes) -> tuple[bytes, bytes]:
    """The contexts the chain checks a member's two sealed secrets against (chain/rounds/aggregate_mode.py)."""
    from chain.rounds.aggregate_mode import KEY, SEED, secret_context
    return (secret_context(chain_id, model_id, round_, address, KEY),
            secret_context(chain_id, model_id, round_, address, SEED))


def masked_update(member: Member, index: int, cohort_pubkeys: Mapping[int, bytes], ctx: bytes,
                  delta: Sequence[np.ndarray]) -> np.ndarray:
    """y = flatten(delta) + this member's mask (mod 2^64)."""
    x = masks.flatten(delta)
    return masks.mask(x, masks.member_mask(index, member.round_private, member.self_seed, cohort_pubkeys, ctx, len(x)))


def encode_masked(y: np.ndarray) -> bytes:
    """The canonical bytes of a masked vector: little-endian uint64, nothing else (its length is fixed by
    the model's parameter count)."""
    return np.asarray(y, dtype="<u8").tobytes()


def decode_masked(raw: bytes, n: int) -> np.ndarray:
    if len(raw) != 8 * n:
        raise masks.SecaggError(f"a masked update of this model is {8 * n} bytes, got {len(raw)}")
    return np.frombuffer(raw, dtype="<u8").astype(np.uint64)
