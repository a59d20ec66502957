"""Rounds test helpers: a registry genesis with four bonded validators (X25519 keys of the sealing test
vector, power 10 each), an activated model, and sealed submissions built like the SDK builds them."""
from __future__ import annotations

import base64
import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parent.parent
for sub in ("registry", "sealing"):
    if str(_TESTS / sub) not in sys.path:
        sys.path.insert(0, str(_TESTS / sub))

from chain.bank import keeper as bank  # noqa: E402
from chain.rounds import keeper as rounds_keeper  # noqa: E402
from chain.sealing.envelope import seal_context  # noqa: E402
from chain.store.kv import prefix_end  # noqa: E402
from chain.tx.address import to_bech32  # noqa: E402
from chain.rounds.messages import MsgSubmitUpdate  # noqa: E402
from chain.validators.keeper import BONDED_POOL  # noqa: E402
from chainutil import CHAIN_ID  # noqa: E402
from client.seal import seal  # noqa: E402
from client.trainer import sealing_set  # noqa: E402
from client.wallet import Wallet  # noqa: E402
from lightutil import Key  # noqa: E402
from registryutil import RegistryChain, registry_genesis, u64  # noqa: E402
from sealingutil import validator_private_key, validator_public_key  # noqa: E402

BOND = 10_000_000      # power 10 at the default power reduction of 10**6
OPERATORS = [Wallet.from_seed(bytes([0x40 + i]) * 32) for i in range(4)]
CONSENSUS_KEYS = [Key(i, power=BOND // 10**6) for i in range(len(OPERATORS))]
ROUNDS = {"max_submissions_per_round": 8, "max_payload_bytes": 20_000, "max_total_shares": 256}


def rounds_genesis(rounds: dict | None = None, **registry_params) -> dict:
    g = registry_genesis(**registry_params)
    validators = []
    for i, op in enumerate(OPERATORS):
        consensus = CONSENSUS_KEYS[i].pubkey   # real Ed25519 keys: the in-process RPC signs headers with them
        validators.append({"operator": op.address, "consensus_pubkey": base64.b64encode(consensus).decode(),
                           "encryption_pubkey": base64.b64encode(validator_public_key(i)).decode(),
                           "bond": str(BOND), "status": "active"})
    g["validators"] = {"validators": validators}
    g["bank"]["balances"] = sorted(g["bank"]["balances"] + [
        {"address": to_bech32(BONDED_POOL), "coins": [{"denom": "ugrad", "amount": str(BOND * len(OPERATORS))}]}],
        key=lambda b: b["address"])
    g["rounds"] = {"params": {**ROUNDS, **(rounds or {})}}
    return g


def private_key_of_index(chain, index: int) -> bytes:
    """The X25519 private key of sealing-set member `index` (members are in operator-address order)."""
    info = chain.query_json("/rounds/round", u64(1, 0))
    pubkey = bytes.fromhex(info["sealing_set"][index]["encryption_pubkey"])
    return next(validator_private_key(i) for i in range(4) if validator_public_key(i) == pubkey)


def sealed(chain, wallet, model_id: int, round_: int, update: bytes, *, context_signer: bytes | None = None,
           validators=None) -> bytes:
    """Envelope bytes of `update` sealed to the set /rounds/round reports (as the SDK does)."""
    info = chain.query_json("/rounds/round", u64(model_id, round_))
    context = seal_context(CHAIN_ID, model_id, round_, context_signer or wallet.address_bytes)
    return seal(update, validators or sealing_set(info), context,
                max_total_shares=info["max_total_shares"]).encode()


def submit_msg(chain, wallet, model_id: int, round_: int, update: bytes = b"update", parent: int = 0,
               **kwargs) -> MsgSubmitUpdate:
    return MsgSubmitUpdate(model_id=model_id, round=round_, parent_version=parent,
                           envelope=sealed(chain, wallet, model_id, round_, update, **kwargs))


def delta(model, bump: int = 0) -> bytes:
    """A valid update for `model` (a ChainModel): the zero delta, with `bump` added to the first weight."""
    import numpy as np
    from chain.scoring.weights import encode_weights
    arrays = [np.zeros_like(w) for w in model.weights]
    arrays[0].flat[0] = bump
    return encode_weights(arrays)


def rounds_snapshot(chain) -> dict:
    """Every rounds key and the escrow's balances: what a failed submission must leave untouched."""
    state = chain.app.store
    return {"keys": dict(state.iterate(b"rnd/", prefix_end(b"rnd/"))),
            "escrow": bank.balances(state, rounds_keeper.ESCROW)}


class RoundsChain(RegistryChain):
    def __init__(self, rounds: dict | None = None, validator_params: dict | None = None, **registry_params):
        genesis = rounds_genesis(rounds, **registry_params)
        if validator_params:
            genesis["validators"]["params"] = validator_params
        super().__init__(app_state=genesis)


# the scoring prepayment of one submission to the tiny digits model (chain/rounds/fees.py): the registry's
# max_shard_samples x 1184 multiply-adds per sample x fee_per_work_unit, refunded beyond the job's real cost
PREPAY = 150 * 1184 * 1
