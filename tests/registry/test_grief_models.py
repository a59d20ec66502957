"""Cheap griefing through registrations (docs/security.md, "Caps in force"): one owner may hold at most
max_open_models_per_owner open models (registry/20 beyond that), and each registration may cost a
registration_fee paid to the fee collector. A refused registration stores nothing and moves nothing but
the tx fee."""
import pytest

from chain.auth.ante import FEE_COLLECTOR, sequence
from chain.bank import keeper as bank
from chain.bank.errors import InsufficientFunds
from chain.registry import keeper
from chain.registry.errors import TooManyOpenModels
from chain.registry.params import RegistryParams
from chain.rounds.messages import MsgCloseModel
from chain.tx.coins import Coin
from chain.tx.errors import InvalidGenesis
from chainutil import ALICE, BOB
from registryutil import code, err, register_msg, registered_id, registry_snapshot, RegistryChain, tiny_model_and_shards

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def setup():
    return tiny_model_and_shards()


def cheap(model, shards):
    """A registration that escrows little: the cap, not the owner's balance, is what stops the 17th."""
    return register_msg(model, shards, bounty=Coin.of("ugrad", 1000), bond=Coin.of("ugrad", 1000))


def ugrad(chain, address: bytes) -> int:
    return bank.balance(chain.app.store, address, "ugrad")


def test_grief_seventeenth_open_model_of_one_owner_is_refused(setup):
    model, shards = setup
    chain = RegistryChain()
    assert RegistryParams().max_open_models_per_owner == 16
    seq = sequence(chain.app.store, ALICE.address_bytes)
    txs = [chain.sign(ALICE, cheap(model, shards), seq=seq + i) for i in range(17)]
    checked = [chain.app.check_tx(tx) for tx in txs]            # the mempool already refuses the 17th
    assert [(c.codespace, c.code) for c in checked] == [("", 0)] * 16 + [err(TooManyOpenModels)]
    results = chain.block(txs[:16]).tx_results
    assert all(code(r) == ("", 0) for r in results), [r.log for r in results]

    before, alice = registry_snapshot(chain), ugrad(chain, ALICE.address_bytes)
    result, _ = chain.run(ALICE, cheap(model, shards))
    assert code(result) == err(TooManyOpenModels), result.log
    assert "max_open_models_per_owner" in result.log
    assert registry_snapshot(chain) == before                    # no model, no id allocated, no escrow
    assert ugrad(chain, ALICE.address_bytes) == alice - result.gas_used - 10   # the tx fee only
    assert keeper.counters(chain.app.store)["next_model_id"] == 17

    # another owner is not affected
    result, _ = chain.run(BOB, cheap(model, shards))
    assert code(result) == ("", 0), result.log
    # a closed model no longer counts: ALICE may register again after closing one
    result, _ = chain.run(ALICE, MsgCloseModel(model_id=3))
    assert code(result) == ("", 0), result.log
    result, block = chain.run(ALICE, cheap(model, shards))
    assert code(result) == ("", 0), result.log
    assert registered_id(block) == 18
    assert code(chain.run(ALICE, cheap(model, shards))[0]) == err(TooManyOpenModels)


def test_grief_registration_fee_is_charged_exactly_to_the_fee_collector(setup):
    model, shards = setup
    chain = RegistryChain(registration_fee=250_000, max_open_models_per_owner=2)
    alice, collector = ugrad(chain, ALICE.address_bytes), ugrad(chain, FEE_COLLECTOR)
    escrow = dict(bank.balances(chain.app.store, keeper.ESCROW))
    result, block = chain.run(ALICE, cheap(model, shards))
    assert code(result) == ("", 0), result.log
    tx_fee = result.gas_used + 10
    assert ugrad(chain, ALICE.address_bytes) == alice - tx_fee - 250_000 - 2000       # fee + bounty + bond
    assert ugrad(chain, FEE_COLLECTOR) == collector + tx_fee + 250_000
    assert dict(bank.balances(chain.app.store, keeper.ESCROW)).get("ugrad", 0) == escrow.get("ugrad", 0) + 2000
    attrs = dict(next(e for e in result.events if e.type == "register_model").attributes)
    assert attrs["registration_fee"] == "250000ugrad"
    # closing refunds the escrow and the bond, never the fee
    model_id = registered_id(block)
    result, _ = chain.run(ALICE, MsgCloseModel(model_id=model_id))
    assert code(result) == ("", 0), result.log
    assert ugrad(chain, ALICE.address_bytes) == alice - tx_fee - 250_000 - result.gas_used - 10


def test_grief_registration_that_cannot_pay_the_fee_stores_nothing(setup):
    model, shards = setup
    chain = RegistryChain(registration_fee=9_999_000)   # BOB holds 10**7 ugrad: the escrow fits, the fee does not
    before, bob, collector = registry_snapshot(chain), ugrad(chain, BOB.address_bytes), ugrad(chain, FEE_COLLECTOR)
    result, _ = chain.run(BOB, cheap(model, shards))
    assert code(result) == err(InsufficientFunds), result.log
    tx_fee = result.gas_used + 10
    assert registry_snapshot(chain) == before
    assert ugrad(chain, BOB.address_bytes) == bob - tx_fee
    assert ugrad(chain, FEE_COLLECTOR) == collector + tx_fee


def test_grief_registry_caps_are_validated():
    for bad in (0, -1, True):
        with pytest.raises(InvalidGenesis, match="max_open_models_per_owner"):
            RegistryParams(max_open_models_per_owner=bad).validate()
    for bad in (-1, True, "1"):
        with pytest.raises(InvalidGenesis, match="registration_fee"):
            RegistryParams(registration_fee=bad).validate()
    assert RegistryParams().registration_fee == 0
