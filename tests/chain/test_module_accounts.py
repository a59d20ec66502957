"""Module accounts and narrow bank capabilities (issue 12 item 5, issue 13 finding 7).

A plain send to a module account is refused with bank/8 and changes nothing but fee and sequence, so
the escrow invariants hold and a genesis export still imports. Each module holds one capability bound
to one module account: the registry's cannot mint, the bridge's mints only bridge/ denoms, and no
escrow moves another module's account. Outside chain/bank nothing writes balances directly.
"""
import ast
import base64
import inspect
import json
import sys
from pathlib import Path

import pytest

from chain.app import Application
from chain.auth.ante import sequence
from chain.bank import capabilities, keeper as bank, module_accounts
from chain.bank.errors import MissingPermission, ModuleAccountRecipient, ModuleAccountSender
from chain.bank.messages import MsgSend
from chain.bank.module_accounts import MODULE_ACCOUNTS
from chain.genesis import export_genesis
from chain.invariants import check_all
from chain.results import BlockContext
from chain.store.kv import MemoryKV
from chain.store.state import Overlay
from chain.tx.address import module_address, to_bech32
from chain.tx.errors import InvalidGenesis
from chainutil import ALICE, BOB, CHAIN_ID
from client.txbuilder import coins
from client.wallet import Wallet

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "tests" / "registry") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests" / "registry"))
from registryutil import (VOUCHER, RegistryChain, code, register_msg, registry_genesis,  # noqa: E402
                          tiny_model, validation)

NAMES = [a.name for a in MODULE_ACCOUNTS]
OPERATOR = Wallet.from_seed(b"\x11" * 32)
CONSENSUS = Wallet.from_seed(b"\x21" * 32).public_key
BOND = 10_000_000
VPARAMS = {"bond_denom": "ugrad", "power_reduction": 1_000_000, "min_self_bond": 1_000_000,
           "unbonding_blocks": 3, "slash_fraction_bps": 500, "max_validators": 3}


def funded_genesis() -> dict:
    """The registry test genesis plus a validator (bonded_pool holds its bond) and genesis balances for
    the two sinks (community_pool, fee_collector): module accounts may hold coins from genesis on."""
    g = registry_genesis()
    g["bank"]["balances"] += [
        {"address": to_bech32(module_address("bonded_pool")), "coins": [{"denom": "ugrad", "amount": str(BOND)}]},
        {"address": to_bech32(module_address("community_pool")), "coins": [{"denom": "ugrad", "amount": "77"}]},
        {"address": to_bech32(module_address("fee_collector")), "coins": [{"denom": "ugrad", "amount": "5"}]},
        {"address": OPERATOR.address, "coins": [{"denom": "ugrad", "amount": "100000"}]},
    ]
    g["bank"]["balances"].sort(key=lambda b: b["address"])
    g["validators"] = {"params": VPARAMS, "validators": [
        {"operator": OPERATOR.address, "consensus_pubkey": base64.b64encode(CONSENSUS).decode(),
         "encryption_pubkey": base64.b64encode(b"\x07" * 32).decode(), "bond": str(BOND)}]}
    return g


@pytest.fixture(scope="module")
def model_and_shards():
    pytest.importorskip("torch")
    _, model = tiny_model()
    _, _, shards = validation(model)
    return model, shards


@pytest.fixture
def chain(model_and_shards):
    """A chain whose escrows are in use: an open model in registry_escrow, a bond in bonded_pool."""
    model, shards = model_and_shards
    chain = RegistryChain(app_state=funded_genesis())
    result, _ = chain.run(ALICE, register_msg(model, shards))
    assert code(result) == ("", 0), result.log
    assert bank.balances(chain.app.store, module_address("registry_escrow")) == [(VOUCHER, 100_000), ("ugrad", 50_000)]
    return chain


def snapshot(chain) -> dict:
    state = chain.app.store
    return {"balances": {a.name: bank.balances(state, a.address) for a in MODULE_ACCOUNTS},
            "supply": bank.all_supply(state)}


def assert_roundtrip(chain) -> None:
    exported = export_genesis(chain.app.store)
    other = Application(MemoryKV())
    assert other.init_chain(CHAIN_ID, 1, json.dumps(exported).encode()).app_hash == chain.app.info()[1]
    other.finalize_block(BlockContext(CHAIN_ID, 1, 0, 0, b"\x00" * 20), [])
    other.commit()
    assert export_genesis(other.store) == exported


# --- a plain send to a module account -----------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_module_account_send_refused_and_state_intact(chain, name):
    state = chain.app.store
    before, alice = snapshot(chain), bank.balance(state, ALICE.address_bytes, "ugrad")
    fees_before = bank.balance(state, module_address("fee_collector"), "ugrad")
    seq = sequence(state, ALICE.address_bytes)
    result, _ = chain.run(ALICE, MsgSend(to_address=module_address(name), amount=coins({"ugrad": 1})))
    assert code(result) == ("bank", 8), result.log
    assert name in result.log and "module account" in result.log
    state = chain.app.store
    fee = bank.balance(state, module_address("fee_collector"), "ugrad") - fees_before
    assert fee > 0 and bank.balance(state, ALICE.address_bytes, "ugrad") == alice - fee  # the fee, nothing else
    assert sequence(state, ALICE.address_bytes) == seq + 1
    after = snapshot(chain)
    assert after["supply"] == before["supply"]
    after["balances"].pop("fee_collector"), before["balances"].pop("fee_collector")
    assert after["balances"] == before["balances"]
    assert check_all(state) == []
    assert_roundtrip(chain)


def test_module_account_send_refused_in_any_message_position(chain):
    """A tx whose second message sends to a module account fails as a whole: the first send is undone."""
    state = chain.app.store
    bob = bank.balance(state, BOB.address_bytes, "ugrad")
    result, _ = chain.run(ALICE, MsgSend(to_address=BOB.address_bytes, amount=coins({"ugrad": 10})),
                          MsgSend(to_address=module_address("rounds_escrow"), amount=coins({"ugrad": 1})))
    assert code(result) == ("bank", 8) and "message 1" in result.log
    assert bank.balance(chain.app.store, BOB.address_bytes, "ugrad") == bob
    assert bank.balances(chain.app.store, module_address("rounds_escrow")) == []


def test_module_account_plain_sends_still_work(chain):
    result, _ = chain.run(ALICE, MsgSend(to_address=BOB.address_bytes, amount=coins({"ugrad": 10})))
    assert code(result) == ("", 0), result.log


def test_module_account_credited_outside_its_module_breaks_invariants(chain):
    """What the refusal prevents: the same 1ugrad moved into bonded_pool or registry_escrow by the raw,
    bank-internal send makes invariants fail and an exported genesis fail to import."""
    for name, check in (("bonded_pool", "bonded_pool_covers_bonds"),
                        ("registry_escrow", "registry_escrow_covers_models")):
        state = _overlay(chain)
        bank._send(state, ALICE.address_bytes, module_address(name), [("ugrad", 1)])
        assert any(p.startswith(check) for p in check_all(state))
        with pytest.raises(InvalidGenesis):
            Application(MemoryKV()).init_chain(CHAIN_ID, 1, json.dumps(export_genesis(state)).encode())


def test_module_account_genesis_balances_roundtrip(chain):
    """Genesis may give module accounts balances; escrows in use round-trip through export and import."""
    exported = export_genesis(chain.app.store)
    held = {b["address"] for b in exported["bank"]["balances"]}
    for name in ("bonded_pool", "community_pool", "fee_collector", "registry_escrow"):
        assert to_bech32(module_address(name)) in held
    assert_roundtrip(chain)


# --- the table ------------------------------------------------------------------------------------------
def test_module_account_table_addresses_and_permissions():
    by_name = {a.name: a for a in MODULE_ACCOUNTS}
    assert set(by_name) == {"fee_collector", "community_pool", "bonded_pool", "registry_escrow", "rounds_escrow",
                            "bridge_escrow"}
    for account in MODULE_ACCOUNTS:  # the same bytes as before the table existed: app hashes unchanged
        assert account.address == module_address(account.name)
        assert module_accounts.by_address(account.address) is account
        assert module_accounts.is_module_account(account.address)
    minters = {a.name for a in MODULE_ACCOUNTS if a.permissions & {module_accounts.MINT, module_accounts.BURN}}
    assert minters == {"bridge_escrow"} and by_name["bridge_escrow"].denom_prefix == "bridge/"
    assert {a.name for a in MODULE_ACCOUNTS if module_accounts.STAKING in a.permissions} == {"bonded_pool"}
    assert by_name["bonded_pool"].holder == "validators"
    from chain.auth.ante import FEE_COLLECTOR
    from chain.bridge.keeper import ESCROW as BRIDGE
    from chain.registry.keeper import ESCROW as REGISTRY
    from chain.rounds.keeper import ESCROW as ROUNDS
    from chain.validators.keeper import BONDED_POOL, COMMUNITY_POOL
    assert [FEE_COLLECTOR, COMMUNITY_POOL, BONDED_POOL, REGISTRY, ROUNDS, BRIDGE] == [by_name[n].address for n in (
        "fee_collector", "community_pool", "bonded_pool", "registry_escrow", "rounds_escrow", "bridge_escrow")]
    assert not module_accounts.is_module_account(ALICE.address_bytes)
    with pytest.raises(KeyError):
        module_accounts.account("treasury")


# --- capabilities ---------------------------------------------------------------------------------------
def _overlay(chain):
    """A write buffer over the committed state: capabilities are exercised on it and it is dropped."""
    return Overlay(chain.app.store)


def held_capabilities():
    from chain.auth.ante import FEES
    from chain.bridge.keeper import BANK as BRIDGE
    from chain.registry.keeper import BANK as REGISTRY
    from chain.rounds.keeper import BANK as ROUNDS
    from chain.validators.keeper import STAKING
    return {"auth": FEES, "bridge": BRIDGE, "registry": REGISTRY, "rounds": ROUNDS, "validators": STAKING}


def test_capability_registry_cannot_mint(chain):
    registry = held_capabilities()["registry"]
    assert registry.address == module_address("registry_escrow")
    assert not hasattr(registry, "mint") and not hasattr(registry, "burn")
    state = _overlay(chain)
    supply = bank.all_supply(state)
    for denom in ("ugrad", VOUCHER):  # at run time the bank checks the account's permissions
        with pytest.raises(MissingPermission, match="registry_escrow lacks the mint permission"):
            bank.mint_coins(state, "registry_escrow", denom, 1)
        with pytest.raises(MissingPermission, match="registry_escrow lacks the mint permission"):
            bank.mint_coins(state, "registry_escrow", denom, 1, to=ALICE.address_bytes)
        with pytest.raises(MissingPermission, match="registry_escrow lacks the burn permission"):
            bank.burn_coins(state, "registry_escrow", denom, 1)
    assert bank.all_supply(state) == supply and state.changes() == {}


def test_capability_only_the_bridge_mints_and_burns():
    caps = held_capabilities()
    assert [m for m, cap in caps.items() if hasattr(cap, "mint") or hasattr(cap, "burn")] == ["bridge"]
    for name in NAMES:
        if name != "bridge_escrow":
            with pytest.raises(MissingPermission):
                bank.mint_coins(None, name, "bridge/1/0x" + "00" * 20, 1)  # refused before any read or write


def test_capability_bridge_cannot_mint_a_non_bridge_denom(chain):
    bridge = held_capabilities()["bridge"]
    state = _overlay(chain)
    supply = bank.all_supply(state)
    for denom in ("ugrad", "stake", "bridgeless", "ibc/bridge/1"):
        with pytest.raises(MissingPermission, match="lacks the mint permission for denoms under 'bridge/'"):
            bridge.mint(state, ALICE.address_bytes, denom, 1)
    bank.genesis_mint(state, bridge.address, "ugrad", 3)  # even ugrad the escrow holds cannot be burnt
    with pytest.raises(MissingPermission, match="burn permission for denoms under 'bridge/'"):
        bridge.burn(state, "ugrad", 3)
    voucher = "bridge/1/0x" + "cd" * 20
    bridge.mint(state, ALICE.address_bytes, voucher, 40)  # its own denoms: minted straight to the recipient
    assert bank.balance(state, ALICE.address_bytes, voucher) == 40 and bank.supply(state, voucher) == 40
    assert bank.balances(state, bridge.address) == [("ugrad", 3)]
    bridge.collect(state, ALICE.address_bytes, [(voucher, 15)])
    bridge.burn(state, voucher, 15)
    assert bank.supply(state, voucher) == 25 and bank.balances(state, bridge.address) == [("ugrad", 3)]
    assert dict(bank.all_supply(state))["ugrad"] == dict(supply)["ugrad"] + 3


def test_capability_bridge_mint_refuses_escrow_recipients(chain):
    """A deposit destined to a module account that takes no payments is refused; the sinks may receive."""
    bridge = held_capabilities()["bridge"]
    state = _overlay(chain)
    voucher = "bridge/1/0x" + "cd" * 20
    for name in ("bonded_pool", "registry_escrow", "rounds_escrow", "bridge_escrow"):
        with pytest.raises(ModuleAccountRecipient):
            bridge.mint(state, module_address(name), voucher, 1)
    assert bank.supply(state, voucher) == 0
    bridge.mint(state, module_address("community_pool"), voucher, 1)
    assert bank.balance(state, module_address("community_pool"), voucher) == 1


def test_capability_escrow_cannot_move_another_module_account(chain):
    caps = held_capabilities()
    registry, rounds = caps["registry"], caps["rounds"]
    state = _overlay(chain)
    before = {a.name: bank.balances(state, a.address) for a in MODULE_ACCOUNTS}
    # no method names the account coins leave: each pays out of its own account only
    for cap in caps.values():
        for method_name, method in inspect.getmembers(cap, inspect.ismethod):
            if not method_name.startswith("_"):
                params = set(inspect.signature(method).parameters)
                assert not params & {"sender", "source", "module", "account", "from_address"}, (cap, method_name)
    for cap in (registry, rounds, caps["validators"], caps["bridge"], caps["auth"]):
        for name in ("bonded_pool", "registry_escrow", "rounds_escrow", "bridge_escrow"):
            other = module_address(name)
            with pytest.raises(ModuleAccountSender):  # pulling coins out of another module account
                (cap.bond if hasattr(cap, "bond") else cap.collect)(state, other, [("ugrad", 1)])
            if hasattr(cap, "pay"):
                with pytest.raises(ModuleAccountRecipient):  # pushing coins into an escrow
                    cap.pay(state, other, [("ugrad", 1)])
    assert {a.name: bank.balances(state, a.address) for a in MODULE_ACCOUNTS} == before
    assert state.changes() == {}
    # what an escrow may do: pay its own coins to a user or to a sink
    registry.pay(state, module_address("community_pool"), [("ugrad", 2)])
    registry.pay(state, BOB.address_bytes, [(VOUCHER, 3)])
    assert bank.balances(state, registry.address) == [(VOUCHER, 99_997), ("ugrad", 49_998)]
    with pytest.raises(Exception, match="insufficient"):
        rounds.pay(state, BOB.address_bytes, [("ugrad", 1)])  # rounds_escrow is empty: not the registry's coins


def test_capability_factories_refuse_the_wrong_account():
    with pytest.raises(ValueError):
        capabilities.escrow("bonded_pool")
    for sink in ("fee_collector", "community_pool"):
        with pytest.raises(ValueError):
            capabilities.escrow(sink)
    with pytest.raises(KeyError):
        capabilities.escrow("treasury")
    assert capabilities.staking().address == module_address("bonded_pool")
    assert capabilities.fees().address == module_address("fee_collector")
    assert not hasattr(capabilities.fees(), "pay")  # nothing pays out of fee_collector


# --- static checks: who obtains what, and nobody writes around the capabilities ------------------------------
FACTORY_ACCOUNT = {"fees": "fee_collector", "staking": "bonded_pool", "bridge": "bridge_escrow"}
BANK_READS = {"balance", "balances", "supply", "all_supply", "validate_send"}
SCANNED = ("chain", "abci_app", "client", "cli", "relayer", "scripts", "bench")


def python_files(*tops):
    for top in tops:
        base = ROOT / top
        if base.is_dir():
            yield from sorted(p for p in base.rglob("*.py") if ".venv" not in p.parts)


def test_capability_each_obtained_once_by_its_holder():
    obtained: dict[str, list[str]] = {}
    for path in python_files(*SCANNED):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("chain/bank/"):
            continue
        tree = ast.parse(path.read_text())
        aliases = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                   and n.module == "chain.bank" for a in n.names if a.name == "capabilities"}
        assert not any(isinstance(n, ast.ImportFrom) and n.module == "chain.bank.capabilities"
                       for n in ast.walk(tree)), f"{rel}: obtain a capability as bank_capabilities.<factory>()"
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in aliases):
                factory = node.func.attr
                name = node.args[0].value if factory == "escrow" else FACTORY_ACCOUNT[factory]
                obtained.setdefault(name, []).append(rel)
    for account in MODULE_ACCOUNTS:
        where = obtained.get(account.name, [])
        if not account.holder:  # community_pool: a sink no capability pays out of
            assert where == [], where
            continue
        assert len(where) == 1, f"{account.name}'s capability must be obtained exactly once, not in {where}"
        assert where[0].startswith(f"chain/{account.holder}/"), f"{account.name} is held by {account.holder}: {where}"


def test_capability_bank_writes_stay_inside_the_bank():
    """Outside chain/bank only reads of chain.bank.keeper are used; genesis import alone credits balances."""
    for path in python_files(*SCANNED):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("chain/bank/"):
            continue
        allowed = BANK_READS  # genesis credits balances through chain/bank/genesis.py
        tree = ast.parse(path.read_text())
        aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "chain.bank":
                aliases |= {a.asname or a.name for a in node.names if a.name == "keeper"}
            elif isinstance(node, ast.ImportFrom) and node.module == "chain.bank.keeper":
                bad = {a.name for a in node.names} - allowed
                assert not bad, f"{rel} imports {sorted(bad)} from chain.bank.keeper"
            elif isinstance(node, ast.Import):
                assert not any(a.name == "chain.bank.keeper" for a in node.names), f"{rel}: import chain.bank.keeper"
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                assert node.attr in allowed, f"{rel}:{node.lineno} uses chain.bank.keeper.{node.attr}"
        text = path.read_text()
        for raw in ("apply_send", "apply_mint", "apply_burn", "_send(", "_mint(", "_burn("):
            assert f"bank.{raw}" not in text and f"keeper.{raw}" not in text, f"{rel} calls {raw}"


def test_module_account_bridge_deposit_to_an_escrow_is_refused():
    """A deposit attested for a module account that takes no payments (here the bridge escrow itself)
    mints nothing: the claim fails like any claim that cannot take effect and consumes its nonce; a
    deposit to community_pool (a sink) is minted as before."""
    pytest.importorskip("web3")
    if str(ROOT / "tests" / "bridge") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests" / "bridge"))
    from bridgeutil import BridgeNet
    from chain.bridge.messages import MsgDepositClaim
    net = BridgeNet()
    net.check_evm = False  # the claims below are made up, not read from the EVM
    token = b"\xaa" * 20
    denom = f"bridge/{net.evm_chain_id}/0x{token.hex()}"

    def claim(nonce, destination):
        msg = MsgDepositClaim(evm_chain_id=net.evm_chain_id, event_nonce=nonce, evm_height=10, token=token,
                              sender=b"\xbb" * 20, destination=destination, amount="100", decimals=6)
        return net.block([net.claim_tx(i, msg) for i in range(3)])

    result = claim(1, module_address("bridge_escrow"))
    failed = [dict(e.attributes) for r in result.tx_results for e in r.events if e.type == "bridge_claim_failed"]
    assert len(failed) == 1 and "bridge_escrow" in failed[0]["error"]
    assert net.query("/bridge/state")["last_event_nonce"] == 1 and bank.supply(net.chain.app.store, denom) == 0
    claim(2, module_address("community_pool"))
    assert bank.balance(net.chain.app.store, module_address("community_pool"), denom) == 100
    assert check_all(net.chain.app.store) == []
