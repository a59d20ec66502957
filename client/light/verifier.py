"""Header verification as CometBFT's light client does it (light/verifier.go, spec/light-client/verification).

Pure functions over parsed LightBlocks (client/light/types.py); no I/O, no wall clock: `now` is passed in as
integer nanoseconds since the epoch, so tests inject it.

    verify_light_block   one height on its own: chain id, commit for this header (block_id.hash == header hash),
                         validators_hash == hash of the set served, > 2/3 of that set's power signed (Ed25519
                         over canonical vote sign bytes; only BlockIDFlagCommit signatures count)
    verify_adjacent      trusted h -> h+1: also trusted.next_validators_hash == new.validators_hash
    verify_skipping      trusted h -> h+k: also > 1/3 (trust level) of the TRUSTED set's power signed the new commit
    both check           the trusted header is within the trusting period, time strictly increases, and the
                         new header is not from the future (beyond max_clock_drift)
"""
from __future__ import annotations

from fractions import Fraction

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from client.errors import (HeaderInvalid, NotEnoughVotingPower, SignatureInvalid, TrustedHeaderExpired,
                           ValidatorSetNotTrusted)
from client.light.types import BLOCK_PROTOCOL, FLAG_COMMIT, Commit, LightBlock, ValidatorSet, format_time

DEFAULT_TRUSTING_PERIOD_NS = 14 * 24 * 3600 * 10**9   # 14 days: must be shorter than the unbonding period
DEFAULT_MAX_CLOCK_DRIFT_NS = 10 * 10**9
DEFAULT_TRUST_LEVEL = Fraction(1, 3)


def _verify_signature(pubkey: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(pubkey).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def check_basic(block: LightBlock, chain_id: str) -> None:
    """Everything about one light block that needs no trusted state except the chain id."""
    header, commit = block.header, block.commit
    if header.chain_id != chain_id:
        raise HeaderInvalid(f"header {header.height} is for chain {header.chain_id!r}, not {chain_id!r}")
    if header.version_block != BLOCK_PROTOCOL:
        raise HeaderInvalid(f"header {header.height} has block protocol {header.version_block}, "
                            f"not {BLOCK_PROTOCOL}")
    if commit.height != header.height:
        raise HeaderInvalid(f"commit is for height {commit.height}, header for {header.height}")
    if commit.block_id.hash != header.hash():
        raise HeaderInvalid(f"commit at height {header.height} signs block {commit.block_id.hash.hex().upper()}, "
                            f"not this header (hash {header.hash().hex().upper()})")
    if block.validators.hash() != header.validators_hash:
        raise HeaderInvalid(f"validator set served for height {header.height} hashes to "
                            f"{block.validators.hash().hex().upper()}, the header commits to "
                            f"{header.validators_hash.hex().upper()}")


def verify_commit_light(chain_id: str, validators: ValidatorSet, commit: Commit, height: int) -> None:
    """> 2/3 of `validators`' power signed `commit` (VerifyCommitLight): signatures are by index."""
    if len(commit.signatures) != len(validators.validators):
        raise HeaderInvalid(f"commit at height {height} has {len(commit.signatures)} signatures for "
                            f"{len(validators.validators)} validators")
    signed = 0
    for i, (sig, val) in enumerate(zip(commit.signatures, validators.validators)):
        if sig.flag != FLAG_COMMIT:
            continue
        if sig.validator_address != val.address:
            raise HeaderInvalid(f"signature {i} at height {height} is from {sig.validator_address.hex().upper()}, "
                                f"validator {i} is {val.address.hex().upper()}")
        if not _verify_signature(val.pubkey, sig.signature, commit.vote_sign_bytes(chain_id, i)):
            raise SignatureInvalid(f"signature {i} (validator {val.address.hex().upper()}) on the commit at "
                                   f"height {height} does not verify")
        signed += val.voting_power
    if signed * 3 <= validators.total_power * 2:
        raise NotEnoughVotingPower(f"commit at height {height} is signed by {signed} of {validators.total_power} "
                                   f"voting power; more than 2/3 is needed")


def verify_commit_trusting(chain_id: str, trusted: ValidatorSet, commit: Commit, height: int,
                           trust_level: Fraction = DEFAULT_TRUST_LEVEL) -> None:
    """More than `trust_level` of the TRUSTED set's power signed `commit` (VerifyCommitLightTrusting):
    signatures are matched by address, each validator counted once."""
    signed, seen = 0, set()
    for i, sig in enumerate(commit.signatures):
        if sig.flag != FLAG_COMMIT:
            continue
        val = trusted.by_address(sig.validator_address)
        if val is None or val.address in seen:
            continue
        seen.add(val.address)
        if not _verify_signature(val.pubkey, sig.signature, commit.vote_sign_bytes(chain_id, i)):
            raise SignatureInvalid(f"signature {i} (validator {val.address.hex().upper()}) on the commit at "
                                   f"height {height} does not verify")
        signed += val.voting_power
    if signed <= trusted.total_power * trust_level:
        raise ValidatorSetNotTrusted(f"only {signed} of the trusted set's {trusted.total_power} voting power signed "
                                     f"the commit at height {height}; more than {trust_level} is needed")


def check_trusted_fresh(trusted: LightBlock, now: int, trusting_period: int) -> None:
    if trusted.header.time + trusting_period <= now:
        raise TrustedHeaderExpired(
            f"the trusted header at height {trusted.height} (time {format_time(trusted.header.time)}) is older than "
            f"the trusting period ({trusting_period // 10**9 // 3600} h); give a recent trusted height and hash "
            f"obtained out of band")


def _check_progress(trusted: LightBlock, new: LightBlock, now: int, max_clock_drift: int) -> None:
    if new.height <= trusted.height:
        raise HeaderInvalid(f"header {new.height} is not above the trusted height {trusted.height}")
    if new.header.time <= trusted.header.time:
        raise HeaderInvalid(f"header {new.height}'s time {format_time(new.header.time)} is not after the trusted "
                            f"header's {format_time(trusted.header.time)}")
    if new.header.time > now + max_clock_drift:
        raise HeaderInvalid(f"header {new.height}'s time {format_time(new.header.time)} is in the future")


def verify_adjacent(chain_id: str, trusted: LightBlock, new: LightBlock, now: int, *,
                    trusting_period: int = DEFAULT_TRUSTING_PERIOD_NS,
                    max_clock_drift: int = DEFAULT_MAX_CLOCK_DRIFT_NS) -> None:
    if new.height != trusted.height + 1:
        raise HeaderInvalid(f"header {new.height} is not adjacent to {trusted.height}")
    check_trusted_fresh(trusted, now, trusting_period)
    check_basic(new, chain_id)
    _check_progress(trusted, new, now, max_clock_drift)
    if new.header.validators_hash != trusted.header.next_validators_hash:
        raise HeaderInvalid(f"header {new.height}'s validators_hash {new.header.validators_hash.hex().upper()} is "
                            f"not the trusted header's next_validators_hash "
                            f"{trusted.header.next_validators_hash.hex().upper()}")
    verify_commit_light(chain_id, new.validators, new.commit, new.height)


def verify_skipping(chain_id: str, trusted: LightBlock, new: LightBlock, now: int, *,
                    trusting_period: int = DEFAULT_TRUSTING_PERIOD_NS,
                    max_clock_drift: int = DEFAULT_MAX_CLOCK_DRIFT_NS,
                    trust_level: Fraction = DEFAULT_TRUST_LEVEL) -> None:
    if new.height == trusted.height + 1:
        return verify_adjacent(chain_id, trusted, new, now, trusting_period=trusting_period,
                               max_clock_drift=max_clock_drift)
    check_trusted_fresh(trusted, now, trusting_period)
    check_basic(new, chain_id)
    _check_progress(trusted, new, now, max_clock_drift)
    verify_commit_trusting(chain_id, trusted.validators, new.commit, new.height, trust_level)
    verify_commit_light(chain_id, new.validators, new.commit, new.height)
