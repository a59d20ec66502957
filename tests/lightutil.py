"""Synthetic signed headers for light client tests: our own Ed25519 validators sign CometBFT-shaped commits."""
from __future__ import annotations

import dataclasses
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from client.light.types import (BLOCK_PROTOCOL, FLAG_ABSENT, FLAG_COMMIT, BlockID, Commit, CommitSig, Header,
                                LightBlock, Validator, ValidatorSet)

CHAIN = "light-test"
T0 = 1_700_000_000 * 10**9
SECOND = 10**9


class Key:
    def __init__(self, seed: int, power: int = 10):
        self.private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"val%d" % seed).digest())
        self.pubkey = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.validator = Validator(hashlib.sha256(self.pubkey).digest()[:20], self.pubkey, power)


def valset(keys) -> ValidatorSet:
    ordered = sorted(keys, key=lambda k: (-k.validator.voting_power, k.validator.address))
    return ValidatorSet(tuple(k.validator for k in ordered))


def make_block(keys, height: int, *, time: int | None = None, next_keys=None, signers=None, prev=None,
               chain_id: str = CHAIN, app_hash: bytes = b"\xaa" * 32) -> LightBlock:
    """A light block at `height` signed by `signers` (default: every key) of `keys`."""
    vals = valset(keys)
    next_vals = valset(next_keys if next_keys is not None else keys)
    last = BlockID(prev.header.hash(), 1, b"\x01" * 32) if prev else BlockID(b"", 0, b"")
    header = Header(version_block=BLOCK_PROTOCOL, version_app=1, chain_id=chain_id, height=height,
                    time=T0 + height * SECOND if time is None else time, last_block_id=last,
                    last_commit_hash=b"\x01" * 32, data_hash=b"\x02" * 32, validators_hash=vals.hash(),
                    next_validators_hash=next_vals.hash(), consensus_hash=b"\x03" * 32, app_hash=app_hash,
                    last_results_hash=b"\x04" * 32, evidence_hash=b"\x05" * 32,
                    proposer_address=vals.validators[0].address)
    return sign(LightBlock(header, Commit(height, 0, BlockID(header.hash(), 1, b"\x06" * 32), ()), vals),
                keys, signers, chain_id)


def sign(block: LightBlock, keys, signers=None, chain_id: str = CHAIN) -> LightBlock:
    """(Re)sign `block`'s commit for its header by `signers` (default every key), by validator order."""
    by_address = {k.validator.address: k for k in keys}
    signing = {k.validator.address for k in (signers if signers is not None else keys)}
    commit = dataclasses.replace(block.commit, block_id=dataclasses.replace(block.commit.block_id,
                                                                            hash=block.header.hash()))
    sigs = []
    for val in block.validators.validators:
        if val.address in signing:
            sigs.append(CommitSig(FLAG_COMMIT, val.address, block.header.time + 1, b""))
        else:
            sigs.append(CommitSig(FLAG_ABSENT, b"", 0, b""))
    commit = dataclasses.replace(commit, signatures=tuple(sigs))
    final = []
    for i, s in enumerate(sigs):
        if s.flag == FLAG_COMMIT:
            s = dataclasses.replace(s, signature=by_address[s.validator_address].private.sign(
                commit.vote_sign_bytes(chain_id, i)))
        final.append(s)
    return dataclasses.replace(block, commit=dataclasses.replace(commit, signatures=tuple(final)))


class MemoryProvider:
    def __init__(self, blocks):
        self.blocks = {b.height: b for b in blocks}
        self.fetched: list[int] = []

    def light_block(self, height: int) -> LightBlock:
        self.fetched.append(height)
        return self.blocks[height]

    def latest_height(self) -> int:
        return max(self.blocks)

    def earliest_height(self) -> int:
        return min(self.blocks)
