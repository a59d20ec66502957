"""LightClient: headers a node serves, verified from a trusted anchor (docs/security.md, "Light client").

    light = LightClient(rpc, chain_id, trusted_height=h, trusted_hash=bytes.fromhex(H))   # anchor from out of band
    light = LightClient(rpc, chain_id)          # trust on first use: the chain's first block, as the node shows it
    header = light.verify(height)               # a Header whose app_hash can be trusted, or a LightClientError

Trust on first use accepts block 1 (or the lowest block the node still has) if it is consistent on its own
(> 2/3 of its own validator set signed it); a node that lies from the very first contact can fool it, which
is why giving an anchor (height + header hash) is the safe way.

From the anchor, a higher height is verified by skipping (> 1/3 of the trusted set signed the new commit) and,
when that fails, by bisection; a lower height by walking the hash chain (last_block_id) down from a verified
header. Every verified header is kept in memory and the highest one becomes the trusted state.
"""
from __future__ import annotations

import time
from fractions import Fraction
from typing import Callable, Protocol

from client.errors import HeaderInvalid, LightClientError, RpcError, ValidatorSetNotTrusted
from client.light import verifier
from client.light.types import Commit, Header, LightBlock, ValidatorSet

MAX_PER_PAGE = 100


class Provider(Protocol):
    def light_block(self, height: int) -> LightBlock: ...

    def latest_height(self) -> int: ...


class RPCProvider:
    """LightBlocks from a node's /commit and /validators (every page). Parsing is strict; nothing is trusted."""

    def __init__(self, rpc):
        self.rpc = rpc

    def latest_height(self) -> int:
        return self.rpc.latest_height()

    def earliest_height(self) -> int:
        return int(self.rpc.status()["sync_info"].get("earliest_block_height") or 1)

    def validators(self, height: int) -> ValidatorSet:
        validators, page = [], 1
        while True:
            reply = self.rpc.call("validators", height=str(height), page=str(page), per_page=str(MAX_PER_PAGE))
            if not isinstance(reply, dict) or not isinstance(reply.get("validators"), list):
                raise HeaderInvalid(f"/validators at height {height} answered without a validator list")
            try:
                total = int(reply.get("total"))
            except (TypeError, ValueError):
                raise HeaderInvalid(f"/validators at height {height} has no total") from None
            validators += reply["validators"]
            if len(validators) >= total or not reply["validators"]:
                break
            page += 1
        if len(validators) != total:
            raise HeaderInvalid(f"/validators at height {height} served {len(validators)} of {total} validators")
        return ValidatorSet.from_json(validators)

    def light_block(self, height: int) -> LightBlock:
        reply = self.rpc.commit(height)
        signed = reply.get("signed_header") if isinstance(reply, dict) else None
        if not isinstance(signed, dict):
            raise HeaderInvalid(f"/commit at height {height} has no signed_header")
        header, commit = Header.from_json(signed.get("header")), Commit.from_json(signed.get("commit"))
        if header.height != height:
            raise HeaderInvalid(f"/commit for height {height} answered with header {header.height}")
        return LightBlock(header, commit, self.validators(height))


class LightClient:
    def __init__(self, provider, chain_id: str, *, trusted_height: int | None = None,
                 trusted_hash: bytes | None = None, trusting_period_ns: int = verifier.DEFAULT_TRUSTING_PERIOD_NS,
                 max_clock_drift_ns: int = verifier.DEFAULT_MAX_CLOCK_DRIFT_NS,
                 trust_level: Fraction = verifier.DEFAULT_TRUST_LEVEL, clock: Callable[[], int] = time.time_ns):
        if not hasattr(provider, "light_block"):    # a CometRPC: read /commit and /validators through it
            provider = RPCProvider(provider)
        if (trusted_height is None) != (trusted_hash is None):
            raise LightClientError("a trusted anchor needs both a height and a header hash")
        if trusted_hash is not None and (not isinstance(trusted_hash, bytes) or len(trusted_hash) != 32):
            raise LightClientError("the trusted header hash must be 32 bytes (64 hex digits)")
        if not 0 < trust_level < 1 or trust_level < Fraction(1, 3):
            raise LightClientError("the trust level must be in [1/3, 1)")
        self.provider, self.chain_id = provider, chain_id
        self.trusting_period, self.max_clock_drift = trusting_period_ns, max_clock_drift_ns
        self.trust_level, self.clock = trust_level, clock
        self._anchor = (trusted_height, trusted_hash)
        self.trusted: dict[int, LightBlock] = {}   # verified light blocks by height

    # --- the trusted state -----------------------------------------------------------------------
    def _initialize(self) -> None:
        if self.trusted:
            return
        height, expected = self._anchor
        tofu = height is None
        if tofu:
            height = getattr(self.provider, "earliest_height", lambda: 1)()
        block = self.provider.light_block(height)
        verifier.check_basic(block, self.chain_id)
        if not tofu and block.header.hash() != expected:
            raise HeaderInvalid(f"the node's header at the trusted height {height} hashes to "
                                f"{block.header.hash().hex().upper()}, not the trusted {expected.hex().upper()}")
        verifier.verify_commit_light(self.chain_id, block.validators, block.commit, height)
        verifier.check_trusted_fresh(block, self.clock(), self.trusting_period)
        self.trusted[height] = block

    def latest_trusted(self) -> LightBlock:
        self._initialize()
        return self.trusted[max(self.trusted)]

    # --- verification ----------------------------------------------------------------------------
    def verify(self, height: int) -> Header:
        """The header at `height`, verified from the trusted state; raises a LightClientError otherwise."""
        if isinstance(height, bool) or not isinstance(height, int) or height < 1:
            raise LightClientError(f"height {height!r} is not a block height")
        self._initialize()
        if height in self.trusted:
            return self.trusted[height].header
        below = [h for h in self.trusted if h < height]
        if below:
            return self._forward(self.trusted[max(below)], height).header
        return self._backward(height)

    def _skip(self, trusted: LightBlock, new: LightBlock) -> None:
        verifier.verify_skipping(self.chain_id, trusted, new, self.clock(), trusting_period=self.trusting_period,
                                 max_clock_drift=self.max_clock_drift, trust_level=self.trust_level)

    def _forward(self, trusted: LightBlock, height: int) -> LightBlock:
        """Skipping verification with bisection (light/client.go verifySkipping)."""
        target = self.provider.light_block(height)
        pending = [target]          # headers still to reach, highest last verified first
        while pending:
            candidate = pending[-1]
            try:
                self._skip(trusted, candidate)
            except ValidatorSetNotTrusted:
                pivot = (trusted.height + candidate.height) // 2
                if pivot <= trusted.height or pivot >= candidate.height:
                    raise
                pending.append(self.provider.light_block(pivot))
                continue
            self.trusted[candidate.height] = candidate
            trusted = candidate
            pending.pop()
        return target

    def _backward(self, height: int) -> Header:
        """Below every verified header: walk the hash chain down (each header's last_block_id is its parent)."""
        upper = self.trusted[min(self.trusted)]
        verifier.check_trusted_fresh(upper, self.clock(), self.trusting_period)
        while upper.height > height:
            block = self.provider.light_block(upper.height - 1)
            verifier.check_basic(block, self.chain_id)   # chain id, its commit, its validator set's hash
            if block.header.hash() != upper.header.last_block_id.hash:
                raise HeaderInvalid(f"header {block.height} hashes to {block.header.hash().hex().upper()}; verified "
                                    f"header {upper.height} names {upper.header.last_block_id.hash.hex().upper()}")
            if block.header.time >= upper.header.time:
                raise HeaderInvalid(f"header {block.height}'s time is not before header {upper.height}'s")
            self.trusted[block.height] = block
            upper = block
        return upper.header


__all__ = ["LightClient", "RPCProvider", "Provider", "RpcError"]
