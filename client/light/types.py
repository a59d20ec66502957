"""Headers, commits and validator sets as CometBFT's RPC serves them (/commit, /validators), parsed strictly
into typed records, with the two hashes and the vote sign bytes computed the way CometBFT does
(types/block.go Header.Hash, types/validator_set.go Hash, types/vote.go VoteSignBytes).

Parsing never trusts the node: every field is type-checked, hashes are hex of the right length, and times are
RFC 3339 with up to nine fractional digits, kept as integer nanoseconds (no float ever touches them).
"""
from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import re
from dataclasses import dataclass

from client.errors import HeaderInvalid
from client.light import protowire as pw
from client.light.merkle import hash_from_byte_slices

BLOCK_PROTOCOL = 11       # version.BlockProtocol of CometBFT v0.38: a header of another version is refused
ED25519_TYPE = "tendermint/PubKeyEd25519"
FLAG_ABSENT, FLAG_COMMIT, FLAG_NIL = 1, 2, 3   # BlockIDFlag; only FLAG_COMMIT signatures count
INT64_MAX = (1 << 63) - 1

_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def parse_time(text) -> int:
    """RFC 3339 time -> integer nanoseconds since the Unix epoch (negative before 1970)."""
    match = _RFC3339.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise HeaderInvalid(f"{text!r} is not an RFC 3339 time")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7) or "", match.group(8)
    try:
        offset = _dt.timedelta(0) if zone == "Z" else \
            (1 if zone[0] == "+" else -1) * _dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        when = _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.timezone(offset))
    except ValueError as e:
        raise HeaderInvalid(f"{text!r} is not a valid time: {e}") from None
    delta = when - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 10**9 + int(fraction.ljust(9, "0") or 0)


def format_time(ns: int) -> str:
    seconds, nanos = divmod(ns, 10**9)
    return (_EPOCH + _dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _split(ns: int) -> tuple[int, int]:
    return divmod(ns, 10**9)   # Timestamp: nanos in [0, 1e9) with seconds floored, as Go's time does


def _hex(value, size: int | None, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        raw = None
    if raw is None or (size is not None and len(raw) not in (size,)):
        raise HeaderInvalid(f"{what} is not {size or 'any number of'} bytes of hex: {value!r}")
    return raw


def _int(value, what: str, low: int = 0, high: int = INT64_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise HeaderInvalid(f"{what} is not an integer: {value!r}")
    try:
        number = int(value) if isinstance(value, int) or re.fullmatch(r"-?\d+", value) else None
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise HeaderInvalid(f"{what} is not an integer in [{low}, {high}]: {value!r}")
    return number


def _field(obj, name: str, what: str):
    if not isinstance(obj, dict) or name not in obj:
        raise HeaderInvalid(f"{what} has no {name!r}")
    return obj[name]


@dataclass(frozen=True)
class BlockID:
    hash: bytes
    parts_total: int
    parts_hash: bytes

    @classmethod
    def from_json(cls, obj, what: str = "block_id") -> "BlockID":
        parts = _field(obj, "parts", what)
        hash_, parts_hash = _field(obj, "hash", what), _field(parts, "hash", what)
        return cls(_hex(hash_, 32, f"{what}.hash") if hash_ else b"",
                   _int(_field(parts, "total", what), f"{what}.parts.total", high=2**32 - 1),
                   _hex(parts_hash, 32, f"{what}.parts.hash") if parts_hash else b"")

    def encode(self) -> bytes:
        return pw.block_id(self.hash, self.parts_total, self.parts_hash)


_HASH_FIELDS = ("last_commit_hash", "data_hash", "validators_hash", "next_validators_hash", "consensus_hash",
                "app_hash", "last_results_hash", "evidence_hash")


@dataclass(frozen=True)
class Header:
    version_block: int
    version_app: int
    chain_id: str
    height: int
    time: int                   # ns since the epoch
    last_block_id: BlockID
    last_commit_hash: bytes
    data_hash: bytes
    validators_hash: bytes
    next_validators_hash: bytes
    consensus_hash: bytes
    app_hash: bytes
    last_results_hash: bytes
    evidence_hash: bytes
    proposer_address: bytes

    @classmethod
    def from_json(cls, obj) -> "Header":
        version = _field(obj, "version", "header")
        chain_id = _field(obj, "chain_id", "header")
        if not isinstance(chain_id, str) or not 0 < len(chain_id) <= 50:
            raise HeaderInvalid(f"header chain_id {chain_id!r} is not a chain id")
        # app_hash is any length the app chooses; the other hashes are SHA-256 (or empty, as at height 1)
        hashes = {name: _hex(_field(obj, name, "header"), None, f"header.{name}") for name in _HASH_FIELDS}
        for name in ("validators_hash", "next_validators_hash"):
            if len(hashes[name]) != 32:
                raise HeaderInvalid(f"header.{name} must be 32 bytes")
        return cls(version_block=_int(_field(version, "block", "version"), "version.block", high=2**64 - 1),
                   version_app=_int(version.get("app", "0"), "version.app", high=2**64 - 1),
                   chain_id=chain_id, height=_int(_field(obj, "height", "header"), "header.height", low=1),
                   time=parse_time(_field(obj, "time", "header")),
                   last_block_id=BlockID.from_json(_field(obj, "last_block_id", "header"), "last_block_id"),
                   proposer_address=_hex(_field(obj, "proposer_address", "header"), 20, "proposer_address"),
                   **hashes)

    def hash(self) -> bytes:
        """Header.Hash: the Merkle root over the 14 fields, each cdcEncoded or a protobuf message."""
        seconds, nanos = _split(self.time)
        return hash_from_byte_slices([
            pw.consensus_version(self.version_block, self.version_app),
            pw.string_value(self.chain_id), pw.int64_value(self.height), pw.timestamp(seconds, nanos),
            self.last_block_id.encode(),
            *(pw.bytes_value(getattr(self, name)) for name in _HASH_FIELDS),
            pw.bytes_value(self.proposer_address)])


@dataclass(frozen=True)
class CommitSig:
    flag: int
    validator_address: bytes
    timestamp: int
    signature: bytes


@dataclass(frozen=True)
class Commit:
    height: int
    round: int
    block_id: BlockID
    signatures: tuple[CommitSig, ...]

    @classmethod
    def from_json(cls, obj) -> "Commit":
        sigs = []
        for i, s in enumerate(_field(obj, "signatures", "commit") or []):
            flag = _int(_field(s, "block_id_flag", "commit signature"), f"signature {i} flag", 1, 3)
            if flag == FLAG_ABSENT:
                sigs.append(CommitSig(flag, b"", 0, b""))
                continue
            try:
                signature = base64.b64decode(_field(s, "signature", "commit signature") or "", validate=True)
            except (binascii.Error, TypeError):
                raise HeaderInvalid(f"signature {i} is not base64") from None
            sigs.append(CommitSig(flag, _hex(s.get("validator_address"), 20, f"signature {i} validator_address"),
                                  parse_time(s.get("timestamp")), signature))
        return cls(height=_int(_field(obj, "height", "commit"), "commit.height", low=1),
                   round=_int(_field(obj, "round", "commit"), "commit.round", high=2**31 - 1),
                   block_id=BlockID.from_json(_field(obj, "block_id", "commit"), "commit.block_id"),
                   signatures=tuple(sigs))

    def vote_sign_bytes(self, chain_id: str, index: int) -> bytes:
        """VoteSignBytes of signature `index`'s precommit for the commit's block."""
        sig = self.signatures[index]
        block = self.block_id.encode() if sig.flag == FLAG_COMMIT else None
        seconds, nanos = _split(sig.timestamp)
        return pw.length_delimited(pw.canonical_vote(chain_id, self.height, self.round, block, seconds, nanos))


@dataclass(frozen=True)
class Validator:
    address: bytes
    pubkey: bytes        # Ed25519, 32 bytes
    voting_power: int

    @classmethod
    def from_json(cls, obj) -> "Validator":
        key = _field(obj, "pub_key", "validator")
        if _field(key, "type", "pub_key") != ED25519_TYPE:
            raise HeaderInvalid(f"validator key type {key.get('type')!r} is not {ED25519_TYPE}")
        try:
            pubkey = base64.b64decode(_field(key, "value", "pub_key"), validate=True)
        except (binascii.Error, TypeError):
            raise HeaderInvalid("validator pub_key is not base64") from None
        if len(pubkey) != 32:
            raise HeaderInvalid("an Ed25519 validator key is 32 bytes")
        return cls(address=hashlib.sha256(pubkey).digest()[:20], pubkey=pubkey,
                   voting_power=_int(_field(obj, "voting_power", "validator"), "voting_power", low=1))

    def to_json(self) -> dict:
        return {"address": self.address.hex().upper(),
                "pub_key": {"type": ED25519_TYPE, "value": base64.b64encode(self.pubkey).decode()},
                "voting_power": str(self.voting_power)}


@dataclass(frozen=True)
class ValidatorSet:
    validators: tuple[Validator, ...]     # in CometBFT's order (power descending, then address), as served

    @classmethod
    def from_json(cls, validators: list) -> "ValidatorSet":
        if not isinstance(validators, list) or not validators:
            raise HeaderInvalid("a validator set needs at least one validator")
        return cls(tuple(Validator.from_json(v) for v in validators))

    def to_json(self) -> list:
        return [v.to_json() for v in self.validators]

    def hash(self) -> bytes:
        return hash_from_byte_slices([pw.simple_validator(v.pubkey, v.voting_power) for v in self.validators])

    @property
    def total_power(self) -> int:
        return sum(v.voting_power for v in self.validators)

    def by_address(self, address: bytes) -> Validator | None:
        return next((v for v in self.validators if v.address == address), None)


@dataclass(frozen=True)
class LightBlock:
    """A signed header and the validator set that should have signed it: what one height's check needs."""
    header: Header
    commit: Commit
    validators: ValidatorSet

    @property
    def height(self) -> int:
        return self.header.height
