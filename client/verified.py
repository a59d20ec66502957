"""Verified reads: state the SDK shows as verified is a Merkle proof checked against a header the light client
verified by signatures (client/light/). Nothing here trusts the RPC node: it only carries bytes.

    v = client.verified
    v.get(key)                          # raw state value (None if absent, proven absent), at one height
    v.round(model_id, round_)           # rnd/r/ record; v.submission(...), v.model(...), v.version(...)
    v.weights(model_id, version)        # weight bytes, checked against the proven version record's hash
    v.sealing_set(model_id, round_)     # what a trainer seals to: the round's snapshot, or today's validators

The state after block h is committed to by the app_hash in header h+1, so a value answered at height h is
checked against light-verified header h+1. A read of several keys (the sealing set) must come from one
height; if the chain moved on between the node's answers, the read is repeated.

The sealing set of a round nobody has submitted to yet is the chain's current one: the active validators
in operator order. Each member's record (X25519 key, bond, status) is proven, and the set is checked to be
exactly the consensus validator set at height h+2 (whose hash header h+1 commits to as next_validators_hash:
the validator updates of block h take effect at h+2), which the light client verified by signatures. So a
node cannot add, drop or re-key a member: every key a trainer seals to belongs to a validator that signs blocks.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from chain.registry import keys as reg_keys
from chain.registry.records import ModelRecord, Version
from chain.rounds import keys as rnd_keys
from chain.rounds.params import RoundsParams, RoundsParamsRecord
from chain.rounds.records import Cohort, Member, Round, Submission
from chain.tx.errors import ChainError
from chain.sealing.valset import TWO_THIRDS, share_plan
from chain.tx.address import from_bech32
from chain.tx.proof import ProofError, verify_proof
from chain.validators import keys as val_keys
from chain.validators.keeper import Validator, ValidatorRecord
from chain.validators.params import ValidatorParams, ValidatorParamsRecord
from client.errors import GradchainError, ProofInvalid, SealingSetInvalid, TxFailed

PROOF_TYPE = "gradchain/smt"
SAME_HEIGHT_ATTEMPTS = 5


@dataclass(frozen=True)
class Proven:
    value: bytes | None   # None: the key is proven absent
    height: int           # the state after this block; checked against header height + 1


@dataclass(frozen=True)
class VerifiedSealingSet:
    members: tuple[tuple[int, bytes, int], ...]   # (index, X25519 public key, power), what seal() takes
    max_total_shares: int
    valset_hash: bytes
    snapshotted: bool     # True: the round's own snapshot; False: the set its first submission will snapshot
    height: int


class VerifiedState:
    def __init__(self, client):
        self.client = client

    # --- one key ----------------------------------------------------------------------------------------
    def _query(self, key: bytes, height: int | None = None) -> tuple[dict, bytes | None]:
        height = getattr(self.client, "query_height", 0) if height is None else height
        response = self.client.rpc.abci_query("/store", key, height=height, prove=True)
        if int(response.get("code", 0)):
            raise TxFailed(response.get("codespace", ""), int(response["code"]), response.get("log", ""))
        if height and int(response.get("height", 0)) != height:
            raise ProofInvalid(f"asked for height {height}, the node answered for {response.get('height')}")
        try:
            answered = base64.b64decode(response.get("key") or "")
            value = base64.b64decode(response.get("value") or "")
        except ValueError:
            raise ProofInvalid("node answered a query with malformed base64") from None
        if answered != key:
            raise ProofInvalid("node answered for a different state key than asked")
        return response, (value or None)

    def check(self, response: dict, key: bytes, value: bytes | None) -> int:
        """Check one /store-style answer's proof against the light-verified header after it; its height."""
        ops = (response.get("proofOps") or {}).get("ops") or []
        if len(ops) != 1 or ops[0].get("type") != PROOF_TYPE:
            raise ProofInvalid("node sent no gradchain/smt proof")
        try:
            height = int(response["height"])
            proof = base64.b64decode(ops[0]["data"])
        except (KeyError, TypeError, ValueError):
            raise ProofInvalid("node sent a malformed proof or height") from None
        if height < 1:
            raise ProofInvalid(f"node answered at height {height}")
        self.client.rpc.wait_for_height(height + 1)
        header = self.client.light.verify(height + 1)   # by signatures, from the trusted anchor
        try:
            verify_proof(header.app_hash, key, value, proof)
        except ProofError as e:
            raise ProofInvalid(f"proof does not verify against verified header {height + 1}'s app hash: {e}") from None
        return height

    def get(self, key: bytes, height: int | None = None) -> Proven:
        """One state key at the latest height or at `height` (within the node's query_retention_blocks),
        proven against the light-verified header height + 1."""
        response, value = self._query(key, height)
        return Proven(value, self.check(response, key, value))

    def get_many(self, keys: list[bytes]) -> dict[bytes, Proven]:
        """Several keys, each proven at the height it was answered at (not necessarily one height: for reads
        that need not be consistent with each other, e.g. an explorer's). All are asked first, then checked,
        so the wait for the header after the answers' height is paid about once, not once per key."""
        answers = [(key, *self._query(key)) for key in dict.fromkeys(keys)]
        return {key: Proven(value, self.check(response, key, value)) for key, response, value in answers}

    def get_all(self, keys: list[bytes]) -> tuple[dict[bytes, bytes | None], int]:
        """Several keys read at one height (the node's answers are retried until they agree on it)."""
        for _ in range(SAME_HEIGHT_ATTEMPTS):
            answers = [(key, *self._query(key)) for key in keys]
            heights = {int(response.get("height", 0)) for _, response, _ in answers}
            if len(heights) == 1:
                height = None
                for key, response, value in answers:
                    height = self.check(response, key, value)
                return {key: value for key, _, value in answers}, height
        raise ProofInvalid(f"node answered {len(keys)} reads at different heights {SAME_HEIGHT_ATTEMPTS} times")

    # --- records --------------------------------------------------------------------------------------------
    def _record(self, key: bytes, kind, height: int | None = None) -> dict | None:
        value = self.get(key, height).value
        return None if value is None else _decode(kind, value)

    def model(self, model_id: int, height: int | None = None) -> dict | None:
        return self._record(reg_keys.model_key(model_id), ModelRecord, height)

    def version(self, model_id: int, version: int, height: int | None = None) -> dict | None:
        return self._record(reg_keys.version_key(model_id, version), Version, height)

    def round(self, model_id: int, round_: int, height: int | None = None) -> dict | None:
        return self._record(rnd_keys.round_key(model_id, round_), Round, height)

    def submission(self, model_id: int, round_: int, seq: int, height: int | None = None) -> dict | None:
        return self._record(rnd_keys.submission_key(model_id, round_, seq), Submission, height)

    # --- aggregate mode: a cohort's members and their round public keys (a node that swapped a peer's key
    # for its own could compute that pair's mask, so the keys a trainer masks against are proven) ----------
    def member(self, model_id: int, round_: int, seq: int) -> dict | None:
        return self._record(rnd_keys.member_key(model_id, round_, seq), Member)

    def cohort(self, model_id: int, round_: int, cohort: int) -> dict | None:
        return self._record(rnd_keys.cohort_key(model_id, round_, cohort), Cohort)

    def cohort_pubkeys(self, model_id: int, round_: int, cohort: int) -> dict[int, bytes]:
        """join seq -> round public key of every member of the cohort, all proven at one height."""
        record = self.cohort(model_id, round_, cohort)
        if record is None:
            raise GradchainError(f"round {round_} of model {model_id} has no cohort {cohort}")
        keys = [rnd_keys.member_key(model_id, round_, seq) for seq in record["members"]]
        values, _ = self.get_all(keys)
        out = {}
        for seq, key in zip(record["members"], keys):
            if values[key] is None:
                raise ProofInvalid(f"member {seq} of cohort {cohort} is proven absent")
            member = _decode(Member, values[key])
            if member.get("cohort") != cohort:
                raise ProofInvalid(f"member {seq} is proven to be in cohort {member.get('cohort')}, not {cohort}")
            out[seq] = bytes.fromhex(member["round_pubkey"])
        return out

    def weights(self, model_id: int, version: int) -> bytes:
        """The weight bytes of a version: fetched from the node, checked against the proven version record."""
        record = self.version(model_id, version)
        if record is None:
            raise ProofInvalid(f"model {model_id} has no version {version} (proven absent)")
        response = self.client.rpc.abci_query("/registry/weights", reg_keys.u64(model_id) + reg_keys.u64(version))
        if int(response.get("code", 0)):
            raise TxFailed(response.get("codespace", ""), int(response["code"]), response.get("log", ""))
        raw = base64.b64decode(response.get("value") or "")
        if len(raw) != record["weights_size"] or hashlib.sha256(raw).hexdigest() != record["weights_hash"]:
            raise ProofInvalid(f"node served weights for model {model_id} version {version} that do not match "
                               "the proven weights hash")
        return raw

    # --- the sealing set ---------------------------------------------------------------------------------------
    def sealing_set(self, model_id: int, round_: int) -> VerifiedSealingSet:
        """What an update for (model_id, round_) must be sealed to, proven; SealingSetInvalid otherwise."""
        try:
            return self._sealing_set(model_id, round_)
        except ProofInvalid as e:
            raise SealingSetInvalid(f"the sealing set of model {model_id} round {round_} is not proven: {e}") from None

    def _sealing_set(self, model_id: int, round_: int) -> VerifiedSealingSet:
        operators = [from_bech32(v["operator"]) for v in self.client.validators()]   # a hint; checked below
        round_key = rnd_keys.round_key(model_id, round_)
        wanted = [round_key, rnd_keys.PARAMS, val_keys.PARAMS] + [val_keys.validator_key(op) for op in operators]
        values, height = self.get_all(wanted)
        if values[round_key] is not None:
            record = _decode(Round, values[round_key])
            members = tuple((m["index"], bytes.fromhex(m["encryption_pubkey"]), m["power"]) for m in record["sealing_set"])
            return self._checked(members, record["max_total_shares"], height, True,
                                 bytes.fromhex(record["valset_hash"]))
        rparams = RoundsParams(**_decode(RoundsParamsRecord, values[rnd_keys.PARAMS])) \
            if values[rnd_keys.PARAMS] is not None else RoundsParams()
        vparams = ValidatorParams(**_decode(ValidatorParamsRecord, values[val_keys.PARAMS])) \
            if values[val_keys.PARAMS] is not None else ValidatorParams()
        records = []
        for op in sorted(operators):
            raw = values[val_keys.validator_key(op)]
            if raw is None:
                raise ProofInvalid(f"the node listed validator {op.hex()}, whose record is proven absent")
            records.append(Validator(**_decode(ValidatorRecord, raw)))
        active = [v for v in records if v.power(vparams) > 0]
        self.client.rpc.wait_for_height(height + 2)
        self.client.light.verify(height + 2)
        consensus = {v.pubkey: v.voting_power for v in self.client.light.trusted[height + 2].validators.validators}
        proven = {bytes.fromhex(v.consensus_pubkey): v.power(vparams) for v in active}
        if proven != consensus:
            raise ProofInvalid(f"the validators proven at height {height} ({len(proven)}) are not the signed "
                               f"consensus set of height {height + 2} ({len(consensus)}): a member was added, "
                               "dropped or changed (or the set is changing: try again in a few blocks)")
        members = tuple((i, bytes.fromhex(v.encryption_pubkey), v.power(vparams)) for i, v in enumerate(active))
        return self._checked(members, rparams.max_total_shares, height, False, None)

    @staticmethod
    def _checked(members, max_total_shares: int, height: int, snapshotted: bool,
                 expected_hash: bytes | None) -> VerifiedSealingSet:
        try:
            plan = share_plan(members, max_total_shares=max_total_shares, threshold=TWO_THIRDS)
        except ChainError as e:
            raise ProofInvalid(f"the proven sealing set is unusable: {e}") from None
        if expected_hash is not None and plan.valset_hash != expected_hash:
            raise ProofInvalid("the round's proven sealing set does not hash to its recorded valset_hash")
        return VerifiedSealingSet(members, max_total_shares, plan.valset_hash, snapshotted, height)


def _decode(kind, raw: bytes) -> dict:
    try:
        return kind.decode(raw)
    except Exception as e:  # noqa: BLE001 - a proven value that does not decode is the chain's own bytes
        raise GradchainError(f"a proven {kind.__name__} record does not decode: {e}") from None


__all__ = ["Proven", "VerifiedSealingSet", "VerifiedState"]
