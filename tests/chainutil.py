"""In-process chain helpers for unit tests: an Application over the in-memory store."""
from __future__ import annotations

import base64
import json

from chain.app import Application
from chain.invariants import check_all
from chain.results import BlockContext
from chain.store.kv import MemoryKV
from chain.tx.address import to_bech32
from chain.validators.keeper import BONDED_POOL
from client.txbuilder import coins, sign_tx
from chain.bank.messages import MsgSend
from client.wallet import Wallet

CHAIN_ID = "unit-1"
ALICE = Wallet.from_seed(b"\x01" * 32)
BOB = Wallet.from_seed(b"\x02" * 32)
CAROL = Wallet.from_seed(b"\x03" * 32)
FEE_PER_BYTE = 1


def genesis(**overrides) -> dict:
    state = {
        "auth": {"params": {"fee_denom": "ugrad", "min_fee_base": 10, "min_fee_per_byte": FEE_PER_BYTE,
                            "max_tx_bytes": 4096}},
        "bank": {"balances": [
            {"address": ALICE.address, "coins": [{"denom": "stake", "amount": "500"},
                                                  {"denom": "ugrad", "amount": "1000000"}]},
            {"address": BOB.address, "coins": [{"denom": "ugrad", "amount": "300"}]},
        ]},
    }
    state.update(overrides)
    return state


LIVE_CHAINS: list = []   # every Chain the running test built; tests/conftest.py checks each after the test


def assert_genesis_round_trips(state) -> None:
    """The state exported as genesis imports into a fresh chain that exports the same genesis: whatever a
    test did, an operator could restart the chain from an export of it."""
    from chain.genesis import export_genesis
    exported = json.loads(json.dumps(export_genesis(state)))
    fresh = Application(MemoryKV())
    fresh.init_chain(CHAIN_ID, 1, json.dumps(exported).encode())
    again = export_genesis(fresh._block)
    assert again == exported, "genesis export -> import -> export changed the state"


class Chain:
    """Drives an Application block by block, checking invariants after every commit (and, at the end of
    the test, that its state round-trips through a genesis export)."""

    def __init__(self, kv=None, app_state: dict | None = None, query_retention: int = 0):
        LIVE_CHAINS.append(self)
        self.kv = kv or MemoryKV()
        self.app = Application(self.kv, query_retention=query_retention)
        self.height = self.app.info()[0]
        self.app_hashes: dict[int, bytes] = {}   # height -> app hash after it (what header height + 1 carries)
        if self.height == 0:
            self.app.init_chain(CHAIN_ID, 1, json.dumps(app_state or genesis()).encode())
            self.app_hashes[0] = self.app.info()[1]
            self.block([])  # commit genesis so tests read it from the committed store

    def block(self, txs: list[bytes], time_seconds: int = 1_700_000_000):
        self.height += 1
        ctx = BlockContext(CHAIN_ID, self.height, time_seconds + self.height, 0, b"\x00" * 20)
        result = self.app.finalize_block(ctx, txs)
        self.app.commit()
        assert result.app_hash == self.app.info()[1]
        self.app_hashes[self.height] = result.app_hash
        problems = check_all(self.app.store)
        assert not problems, problems
        return result


# Validator-set fixtures (tests/chain/test_validators.py, test_validators_boundaries.py): two genesis
# validators V1, V2 with consensus keys C1, C2 (C3 free for a joiner), bonding BOND each.
V1, V2 = Wallet.from_seed(b"\x11" * 32), Wallet.from_seed(b"\x12" * 32)  # operators
C1, C2, C3 = (Wallet.from_seed(bytes([0x20 + i]) * 32).public_key for i in range(3))  # consensus keys
ENC = b"\x07" * 32
BOND = 10_000_000
VALIDATOR_PARAMS = {"bond_denom": "ugrad", "power_reduction": 1_000_000, "min_self_bond": 1_000_000,
                    "unbonding_blocks": 3, "slash_fraction_bps": 500, "max_validators": 3}


def validator_genesis(bonds: tuple[int, int] = (BOND, BOND), **params) -> dict:
    """genesis() plus V1 and V2 bonding `bonds` (the bonded pool holds their sum), VALIDATOR_PARAMS with
    `params` over them; Alice can afford a bond and each operator can pay fees."""
    g = genesis()
    g["bank"]["balances"][0]["coins"][1]["amount"] = "100000000"  # Alice can afford a bond
    g["bank"]["balances"].append({"address": to_bech32(BONDED_POOL),
                                  "coins": [{"denom": "ugrad", "amount": str(sum(bonds))}]})
    for operator in (V1, V2):  # operators pay fees
        g["bank"]["balances"].append({"address": operator.address, "coins": [{"denom": "ugrad", "amount": "100000"}]})
    g["bank"]["balances"].sort(key=lambda b: b["address"])
    g["validators"] = {"params": {**VALIDATOR_PARAMS, **params}, "validators": [
        {"operator": w.address, "consensus_pubkey": base64.b64encode(c).decode(),
         "encryption_pubkey": base64.b64encode(ENC).decode(), "bond": str(b)}
        for w, c, b in ((V1, C1, bonds[0]), (V2, C2, bonds[1]))]}
    return g


def send_tx(wallet: Wallet, to: Wallet, amount: dict, sequence: int, fee: int = 2000,
            chain_id: str = CHAIN_ID, memo: str = "") -> bytes:
    msg = MsgSend(to_address=to.address_bytes, amount=coins(amount))
    return sign_tx(wallet, chain_id, sequence, [msg], "ugrad", fee, memo)
