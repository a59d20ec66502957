"""A 4-validator chain (in process) bridged to a real EVM (py-evm through eth-tester and web3)."""
from __future__ import annotations

import base64
import json

from web3 import EthereumTesterProvider, Web3

from chain.bank import keeper as bank
from chain.bridge.keeper import voucher_denom
from chain.tx.address import module_address
from chainutil import ALICE, BOB, CHAIN_ID, Chain, genesis
from client.txbuilder import sign_with_min_fee
from client.wallet import Wallet
from relayer.deploy import deploy_bridge
from relayer.evm import Evm, EvmKey, contract_events
from relayer.orchestrator import Orchestrator

OPERATORS = [Wallet.from_seed(bytes([0x30 + i]) * 32) for i in range(6)]
CONSENSUS = [Wallet.from_seed(bytes([0x38 + i]) * 32).public_key for i in range(6)]
EVM_KEYS = [EvmKey(bytes([0x50 + i]) * 32) for i in range(6)]
ENC = b"\x07" * 32
BOND = 10_000_000
BONDED_POOL = module_address("bonded_pool")
VPARAMS = {"bond_denom": "ugrad", "power_reduction": 1_000_000, "min_self_bond": 1_000_000,
           "unbonding_blocks": 3, "slash_fraction_bps": 500, "max_validators": 10}


def app_state(n_validators: int = 4, bonds: list[int] | None = None) -> dict:
    bonds = bonds or [BOND] * n_validators
    g = genesis()
    for entry in g["bank"]["balances"]:  # Alice and Bob pay fees
        entry["coins"] = [{"denom": "ugrad", "amount": "100000000"} if c["denom"] == "ugrad" else c for c in entry["coins"]]
    from chain.tx.address import to_bech32
    g["bank"]["balances"].append({"address": to_bech32(BONDED_POOL), "coins": [{"denom": "ugrad", "amount": str(sum(bonds))}]})
    for w in OPERATORS:
        g["bank"]["balances"].append({"address": w.address, "coins": [{"denom": "ugrad", "amount": "100000000"}]})
    g["bank"]["balances"].sort(key=lambda b: b["address"])
    g["validators"] = {"params": VPARAMS, "validators": [
        {"operator": OPERATORS[i].address, "consensus_pubkey": base64.b64encode(CONSENSUS[i]).decode(),
         "encryption_pubkey": base64.b64encode(ENC).decode(), "bond": str(bonds[i])} for i in range(n_validators)]}
    return g


class BridgeNet:
    """The chain's blocks are driven by the test; orchestrators submit through `submit`, and their txs
    go into the next block. After every block the invariants hold and, per voucher denom,
    supply + unattested deposits - unattested releases == tokens locked in the contract."""

    def __init__(self, n_validators: int = 4, bonds: list[int] | None = None, evm_keys: int | None = None,
                 state: dict | None = None, **bridge_params):
        """`state`: the genesis app_state to bridge (default `app_state(n_validators, bonds)`); its first
        `n_validators` validators must be OPERATORS[:n_validators]."""
        self.w3 = Web3(EthereumTesterProvider())
        self.tester = self.w3.provider.ethereum_tester
        self.deployer = Evm(self.w3, self.w3.eth.accounts[0])
        self.token = self.deployer.deploy("TestToken", "Test USD", "TUSD", 6)
        self.token2 = self.deployer.deploy("TestToken", "Other", "OTH", 18)
        keyed = n_validators if evm_keys is None else evm_keys
        evm_addresses = {OPERATORS[i].address: EVM_KEYS[i].address for i in range(keyed)}
        base = app_state(n_validators, bonds) if state is None else state
        self.bridge, state = deploy_bridge(self.deployer, CHAIN_ID, base, evm_addresses,
                                           **bridge_params)
        for key in EVM_KEYS:
            self.deployer.fund(key.checksum_address, 10**20)  # gas for relaying
        self.evm_chain_id = self.w3.eth.chain_id
        self._genesis = state
        self.token_bytes = bytes.fromhex(self.token.address[2:])
        self.chain = Chain(app_state=state)
        self.pending: list[bytes] = []
        self.pending_by: dict[bytes, int] = {}
        self.conservation_checks = 0
        self.allow_failures = False
        self.check_evm = True  # off where claims are made up rather than read from the EVM
        self.check_conservation()

    # --- chain access (the orchestrators' ChainAPI is `for_operator`) ---------------------------
    def query(self, path: str, data: bytes = b"") -> dict:
        result = self.chain.app.query(path, data)
        assert result.code == 0, (path, result.log)
        return json.loads(result.value)

    def sign(self, wallet: Wallet, messages: list) -> bytes:
        committed = self.query("/auth/account", wallet.address_bytes)["sequence"]
        sequence = committed + self.pending_by.get(wallet.address_bytes, 0)
        params = self.query("/auth/params")
        return sign_with_min_fee(wallet, CHAIN_ID, sequence, messages, params)

    def submit(self, wallet: Wallet, messages: list) -> None:
        self.pending.append(self.sign(wallet, messages))
        self.pending_by[wallet.address_bytes] = self.pending_by.get(wallet.address_bytes, 0) + 1

    def sign_each(self, wallet: Wallet, message) -> bytes:
        """A signed one-message tx, counted as pending (so the next one gets the next sequence)."""
        raw = self.sign(wallet, [message])
        self.pending_by[wallet.address_bytes] = self.pending_by.get(wallet.address_bytes, 0) + 1
        return raw

    def claim_tx(self, operator_index: int, message) -> bytes:
        return self.sign_each(OPERATORS[operator_index], message)

    def for_operator(self, wallet: Wallet):
        net = self

        class _Api:
            def query(self, path, data=b""):
                return net.query(path, data)

            def submit(self, messages):
                net.submit(wallet, messages)
        return _Api()

    def block(self, txs: list[bytes] = ()):
        txs, self.pending, self.pending_by = self.pending + list(txs), [], {}
        result = self.chain.block(txs)
        for i, r in enumerate(result.tx_results):
            # a claim that arrives after its nonce was attested in the same block is refused (late, harmless)
            late_claim = (r.codespace, r.code) == ("bridge", 7)
            assert r.code == 0 or late_claim or self.allow_failures, (i, r.codespace, r.code, r.log)
        self.check_conservation()
        return result

    # --- EVM side --------------------------------------------------------------------------------
    def denom(self, token=None) -> str:
        return voucher_denom(self.evm_chain_id, bytes.fromhex((token or self.token).address[2:]))

    def mine(self, n: int = 1) -> None:
        self.tester.mine_blocks(n)

    def evm_balance(self, address: str, token=None) -> int:
        return (token or self.token).functions.balanceOf(address).call()

    def deposit(self, user: Evm, amount: int, destination: bytes, token=None):
        return user.deposit(self.bridge, token or self.token, amount, destination)

    def user(self, index: int = 1, mint: int = 10**12) -> Evm:
        account = self.w3.eth.accounts[index]
        for token in (self.token, self.token2):
            self.deployer.transact(token.functions.mint(account, mint))
        return Evm(self.w3, account)

    def check_conservation(self) -> None:
        if not self.check_evm:
            return
        state = self.query("/bridge/state")
        events = contract_events(self.bridge, 0, self.w3.eth.block_number)
        batches = {b["nonce"]: b for b in self.query("/bridge/batches")["batches"]}
        for token in (self.token, self.token2):
            address = token.address
            locked = self.evm_balance(self.bridge.address, token)
            pending = 0
            for e in events:
                if e["event_nonce"] <= state["last_event_nonce"] or e.get("token") != address:
                    continue
                if e["kind"] == "Deposit":
                    pending += e["amount"]
                elif e["kind"] == "BatchExecuted":
                    pending -= sum(int(a) for _, a in batches[e["batch_nonce"]]["transfers"])
            supply = bank.supply(self.chain.app.store, self.denom(token))
            assert supply + pending == locked, (token.address, supply, pending, locked)
        self.conservation_checks += 1

    # --- orchestrators ---------------------------------------------------------------------------
    def orchestrators(self, indices=range(4), relay: bool = True, confirmations: int = 0) -> list[Orchestrator]:
        return [Orchestrator(self.for_operator(OPERATORS[i]), Evm(self.w3, EVM_KEYS[i]), self.bridge.address,
                             OPERATORS[i].address, EVM_KEYS[i], confirmations=confirmations, relay=relay)
                for i in indices]

    def run(self, orchestrators, until, max_rounds: int = 20) -> int:
        """Rounds of (every orchestrator steps, one chain block) until `until()`; returns the rounds used."""
        for rounds in range(1, max_rounds + 1):
            for o in orchestrators:
                report = o.step()
                assert not [e for e in report.errors if "submit" in e], report.errors
            self.block()
            if until():
                return rounds
        raise AssertionError(f"condition not reached in {max_rounds} rounds")


def balance(net: BridgeNet, wallet: Wallet, denom: str) -> int:
    return bank.balance(net.chain.app.store, wallet.address_bytes, denom)


__all__ = ["ALICE", "BOB", "BridgeNet", "EVM_KEYS", "OPERATORS", "CONSENSUS", "ENC", "balance"]
