"""The money rules as a property (hypothesis): over random sequences of transfers, model registrations
with a bounty (in the native or a bridged denom), bounty funding, whole rounds (sealed submissions, the
validators' release, the owner's reveal, scoring, the close and its payouts), idle blocks and closes, on
an in-process chain with four validators, after every step:

- supply per denom is conserved: it equals the genesis supply (nothing here may mint or burn), and the
  balances of all accounts, module accounts included, add up to it;
- the registry escrow covers every open model's unspent bounty and bond;
- a model never pays out more than its bounty: paid + unspent == what was escrowed for it (registration
  plus funding), and the payout events add up to `paid`; its bond only shrinks (void-round compensation);
- the state round-trips through a genesis export: imported into a fresh chain it has the same app hash
  and exports the same genesis.

Select with `pytest -k conservation`."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

_TESTS = Path(__file__).resolve().parent.parent
for _sub in ("rounds", "registry", "sealing"):
    if str(_TESTS / _sub) not in sys.path:
        sys.path.insert(0, str(_TESTS / _sub))

from chain.app import Application  # noqa: E402
from chain.auth.ante import sequence  # noqa: E402
from chain.bank import keeper as bank  # noqa: E402
from chain.bank.keys import BALANCE  # noqa: E402
from chain.bank.messages import MsgSend  # noqa: E402
from chain.codec import decode_uint  # noqa: E402
from chain.genesis import export_genesis  # noqa: E402
from chain.registry import keeper as registry  # noqa: E402
from chain.registry.messages import MsgFundBounty  # noqa: E402
from chain.registry.model import ACTIVE, CLOSED, UPLOADING  # noqa: E402
from chain.rounds.messages import MsgCloseModel, MsgRevealShard  # noqa: E402
from chain.store.kv import MemoryKV, prefix_end  # noqa: E402
from chain.tx.coins import Coin  # noqa: E402
from chain.validators.keeper import consensus_address  # noqa: E402
from chainutil import ALICE, BOB, CAROL, CHAIN_ID  # noqa: E402
from client.txbuilder import coins  # noqa: E402
from registryutil import VOUCHER, register_msg, upload_msgs, validation  # noqa: E402
from roundsutil import CONSENSUS_KEYS, RoundsChain, submit_msg  # noqa: E402
from sealingutil import validator_private_key  # noqa: E402

pytest.importorskip("torch")
WALLETS = (ALICE, BOB, CAROL)
RECIPIENTS = (ALICE, BOB, CAROL, None)     # None: the registry escrow, a module account (refused)
NODES = [(consensus_address(CONSENSUS_KEYS[i].pubkey), validator_private_key(i)) for i in range(4)]


@pytest.fixture(scope="module")
def setup():
    from client.trainer import delta_from_torch
    from registryutil import digits, tiny_model, train_digits
    net, model = tiny_model()
    _, _, shards = validation(model, samples=400, shard_size=25)   # 16 shards of 25: a round scores in a block
    X, y = digits()
    X, y = X[:-400], y[:-400]
    half = len(X) // 2
    updates = {"a": delta_from_torch(model, train_digits(net, X[:half], y[:half], epochs=40)),
               "b": delta_from_torch(model, train_digits(net, X[half:], y[half:], epochs=40)),
               "poison": delta_from_torch(model, train_digits(net, X, (y + 1) % 10, epochs=40)),
               "zero": delta_from_torch(model, net)}
    return model, shards, updates


# --- the driver: blocks carry the validators' vote extensions, like a real chain's ------------------------
class Driver:
    def __init__(self, model, shards, updates):
        self.model, self.shards, self.updates = model, shards, updates
        self.chain = RoundsChain()
        self.chain.skip_genesis_round_trip = True            # checked after every step instead
        self.supply = dict(bank.all_supply(self.chain.app.store))
        self.funded: dict[int, int] = {}     # model id -> bounty escrowed for it (registration + funding)
        self.paid: dict[int, int] = {}       # model id -> the sum of its payout events
        self.bonds: dict[int, int] = {}      # model id -> its bond at registration (void rounds spend it)
        self.revealed: dict[int, set] = {}   # model id -> shard indices revealed
        self.outcomes: set[str] = set()      # which messages passed and failed (hypothesis statistics)

    @property
    def state(self):
        return self.chain.app.store

    def block(self, txs=()):
        chain = self.chain
        height = chain.height + 1
        exts = [(address, chain.app.extend_vote(height, key)) for address, key in NODES]
        assert all(chain.app.verify_vote_extension(height, address, ext) for address, ext in exts)
        proposal = chain.app.prepare_proposal(height, list(txs), exts)
        assert chain.app.process_proposal(height, proposal)
        result = chain.block(proposal)
        for emitted in [e for r in result.tx_results for e in r.events] + list(result.events):
            self.record(emitted)
        return result.tx_results[len(proposal) - len(txs):]

    def run(self, wallet, msg):
        result = self.block([self.chain.sign(wallet, msg)])[0]
        self.outcomes.add(f"{type(msg).__name__} {'ok' if result.code == 0 else 'refused'}")
        return result

    def record(self, event):
        attrs = dict(event.attributes)
        if event.type == "register_model":
            self.funded[int(attrs["model_id"])] = amount_of(attrs["bounty"])
            self.bonds[int(attrs["model_id"])] = amount_of(attrs["bond"])
        elif event.type == "fund_bounty":
            self.funded[int(attrs["model_id"])] += amount_of(attrs["amount"])
        elif event.type == "payout":
            model_id = int(attrs["model_id"])
            self.paid[model_id] = self.paid.get(model_id, 0) + amount_of(attrs["amount"])

    def models(self):
        return registry.all_models(self.state)

    def pick(self, index: int):
        models = self.models()
        return models[index % len(models)]

    # --- actions ---------------------------------------------------------------------------------------
    def send(self, sender, recipient, denom, amount):
        to = registry.ESCROW if recipient is None else recipient.address_bytes
        self.run(sender, MsgSend(to_address=to, amount=coins({denom: amount})))

    def register(self, owner, denom, bounty, activate, expiry_in):
        msg = register_msg(self.model, self.shards, bounty=Coin.of(denom, bounty), round_blocks=4, reveal_blocks=4,
                           min_improvement=1, expiry_height=self.chain.height + expiry_in)
        result = self.run(owner, msg)
        if result.code or not activate:
            return
        model_id = max(self.funded)
        seq = sequence(self.state, owner.address_bytes)
        self.block([self.chain.sign(owner, m, seq=seq + i)
                    for i, m in enumerate(upload_msgs(model_id, self.model.weights_bytes))])

    def fund(self, funder, index, amount):
        model = self.pick(index)
        self.run(funder, MsgFundBounty(model_id=model.id, amount=Coin.of(model.bounty_denom, amount)))

    def close(self, index):
        model = self.pick(index)
        self.run(owner_of(model), MsgCloseModel(model_id=model.id))

    def idle(self, blocks):
        for _ in range(blocks):
            self.block()

    def play_rounds(self, index, submissions, reveal, rounds):
        for _ in range(rounds):
            self.play_round(index, submissions, reveal)

    def play_round(self, index, submissions, reveal):
        """Submissions in the model's current round, then blocks to its end (the validators release in
        their vote extensions), the owner's reveal of an unused shard, and blocks until it closes."""
        active = [m for m in self.models() if m.status == ACTIVE]
        if not active:
            self.block()
            return
        model = active[index % len(active)]
        while True:                                        # a round with a block left for each submission
            model = registry.get_model(self.state, model.id)
            if model.status != ACTIVE:
                return                                     # it expired meanwhile
            round_ = model.current_round(self.chain.height + 1)
            if round_ is not None and model.round_end(round_) - (self.chain.height + 1) >= len(submissions):
                break
            self.block()
        end = model.round_end(round_)
        for wallet, update in submissions:
            self.run(wallet, submit_msg(self.chain, wallet, model.id, round_, self.updates[update],
                                        parent=model.head_version))
        while self.chain.height + 1 < end + 1:
            self.block()                                   # block `end` carries the releases
        unused = sorted(set(range(model.shard_count)) - self.revealed.setdefault(model.id, set()))
        if reveal and unused:
            shard = unused[0]
            result = self.run(owner_of(model), MsgRevealShard(model_id=model.id, round=round_,
                                                              shard=self.shards.shards[shard], shard_index=shard,
                                                              proof=self.shards.proof(shard).encode()))
            if result.code == 0:
                self.revealed[model.id].add(shard)
        for _ in range(model.reveal_blocks + 6):           # scoring (3 blocks a shard) and the close
            info = self.chain.query_json("/rounds/round", round_key(model.id, round_))
            if "closed_height" in info or registry.get_model(self.state, model.id).status == CLOSED:
                break
            self.block()

    # --- the properties --------------------------------------------------------------------------------
    def check(self):
        state = self.state
        totals: dict[str, int] = {}
        for key, value in state.iterate(BALANCE, prefix_end(BALANCE)):
            denom = key[len(BALANCE) + 20:].decode()
            totals[denom] = totals.get(denom, 0) + decode_uint(value)
        assert dict(bank.all_supply(state)) == self.supply, "supply changed: minted or burnt from nothing"
        assert totals == self.supply, "balances (module accounts included) do not add up to the supply"

        owed: dict[str, int] = {}
        for model in self.models():
            paid, unspent = int(model.paid), int(model.escrow)
            assert paid == self.paid.get(model.id, 0), (model.id, paid, self.paid)
            assert paid <= self.funded[model.id], f"model {model.id} paid {paid} of a {self.funded[model.id]} bounty"
            if model.status == CLOSED:
                assert unspent == 0 and int(model.bond) == 0
            else:
                assert model.status in (UPLOADING, ACTIVE)
                assert paid + unspent == self.funded[model.id], (model.id, paid, unspent, self.funded[model.id])
                assert 0 <= int(model.bond) <= self.bonds[model.id]
                for denom, amount in registry.owed(model):
                    owed[denom] = owed.get(denom, 0) + amount
        held = dict(bank.balances(state, registry.ESCROW))
        for denom, amount in owed.items():
            assert held.get(denom, 0) >= amount, f"registry escrow holds {held}, open models are owed {owed}"

        exported = json.loads(json.dumps(export_genesis(state)))
        fresh = Application(MemoryKV())
        assert fresh.init_chain(CHAIN_ID, 1, json.dumps(exported).encode()).app_hash == self.chain.app.info()[1]
        assert export_genesis(fresh._block) == exported


def amount_of(text: str) -> int:
    digits = len(text) - len(text.lstrip("0123456789"))
    return int(text[:digits])


def owner_of(model):
    return next(w for w in WALLETS if w.address_bytes == model.owner_bytes)


def round_key(model_id: int, round_: int) -> bytes:
    return model_id.to_bytes(8, "big") + round_.to_bytes(8, "big")


# --- the generated sequences ---------------------------------------------------------------------------------
wallet = st.sampled_from(WALLETS)
model_index = st.integers(0, 3)
play_round = st.tuples(st.just("play_rounds"), model_index,
                       st.lists(st.tuples(wallet, st.sampled_from(["a", "a", "b", "b", "poison", "zero"])),
                                min_size=1, max_size=3),
                       st.sampled_from([True, True, True, False]),       # the owner reveals, mostly
                       st.integers(1, 3))                                # rounds in a row (a head is paid later)
actions = st.one_of(
    st.tuples(st.just("send"), wallet, st.sampled_from(RECIPIENTS), st.sampled_from(["ugrad", VOUCHER, "stake"]),
              st.integers(1, 300_000)),
    st.tuples(st.just("register"), wallet, st.sampled_from(["ugrad", VOUCHER]), st.integers(1, 200_000),
              st.booleans(), st.integers(8, 40)),
    st.tuples(st.just("fund"), wallet, model_index, st.integers(1, 20_000)),
    play_round, play_round, play_round,                                  # rounds are where money moves
    st.tuples(st.just("idle"), st.integers(1, 10)),
    st.tuples(st.just("close"), model_index),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(expiry=st.integers(16, 70), steps=st.lists(actions, min_size=3, max_size=10))
def test_conservation_of_money_over_random_steps(setup, expiry, steps):
    model, shards, updates = setup
    driver = Driver(model, shards, updates)
    driver.register(ALICE, VOUCHER, 100_000, True, expiry)       # one active model to start with
    driver.check()
    for name, *args in steps:
        getattr(driver, name)(*args)
        driver.check()
    for outcome in sorted(driver.outcomes):
        event(outcome)
    event(f"payouts: {'some' if driver.paid else 'none'}")
    event(f"closed models: {sum(m.status == CLOSED for m in driver.models())}")
