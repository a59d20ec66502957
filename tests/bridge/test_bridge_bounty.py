"""A bounty funded and paid in bridged tokens, end to end against a real EVM (py-evm in process):

  the owner locks ERC-20 tokens in the bridge contract -> the validators' orchestrators claim the deposit
  -> the owner holds vouchers (bridge/<evm chain id>/<token>) -> MsgRegisterModel escrows a bounty in them
  -> a trainer's honest update goes through a whole round (sealed submission, shares released in the
  validators' vote extensions with their X25519 keys, shard revealed, scored, round closed with a new head
  whose payout waits for confirmation) -> the model expires first, so the head is paid on the gain that
  chose it, in vouchers, and the unspent bounty goes back to the owner -> the trainer withdraws its
  vouchers -> a batch signed by the validators' EVM keys is relayed -> the trainer's EVM address holds
  the tokens; the owner withdraws the rest too: the contract ends holding nothing.

Every block goes through the ABCI calls a node makes (the validators' vote extensions, verified, then
PrepareProposal, ProcessProposal, FinalizeBlock, Commit, as tests/rounds/test_release.py drives them) with
the four orchestrators stepping before it, and after every block: the chain's invariants; per token,
voucher supply + unattested deposits - unattested releases == tokens the contract holds; and the vouchers
are all accounted for by the owner, the trainer, the registry escrow (the bounty) and the bridge escrow
(withdrawals in flight)."""
import base64
import hashlib
import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent.parent
for _sub in ("registry", "sealing"):
    if str(_TESTS / _sub) not in sys.path:
        sys.path.insert(0, str(_TESTS / _sub))

from bridgeutil import ALICE, BOB, BridgeNet, app_state  # noqa: E402
from chain.bank import keeper as bank  # noqa: E402
from chain.bridge.keeper import ESCROW as BRIDGE_ESCROW  # noqa: E402
from chain.registry.keeper import ESCROW as REGISTRY_ESCROW  # noqa: E402
from chain.rounds import release  # noqa: E402
from chain.sealing.envelope import seal_context  # noqa: E402
from chain.tx.coins import Coin  # noqa: E402
from chain.bridge.messages import MsgWithdraw  # noqa: E402
from chain.rounds.messages import MsgRevealShard, MsgSubmitUpdate  # noqa: E402
from chain.validators.keeper import consensus_address  # noqa: E402
from chainutil import CHAIN_ID  # noqa: E402
from client.seal import seal  # noqa: E402
from client.trainer import delta_from_torch, sealing_set  # noqa: E402
from registryutil import (AUTH, REGISTRY, digits, register_msg, tiny_model, train_digits, u64, upload_msgs,  # noqa: E402
                          validation)
from sealingutil import validator_private_key, validator_public_key  # noqa: E402

torch = pytest.importorskip("torch")

DEPOSIT = 1_000_000        # 1 TUSD (6 decimals) locked by the owner
BOUNTY = 400_000           # of which the bounty
ROUNDS = {"max_submissions_per_round": 8, "max_payload_bytes": 20_000, "max_total_shares": 256}
CONSENSUS = [hashlib.sha256(b"consensus %d" % i).digest() for i in range(4)]


def bridged_rounds_state() -> dict:
    """The bridge tests' 4 validators (operators with EVM keys, power 10 each), given the rounds tests'
    X25519 sealing keys, with the registry's and rounds' parameters."""
    state = app_state(4)
    for i, v in enumerate(state["validators"]["validators"]):
        v["consensus_pubkey"] = base64.b64encode(CONSENSUS[i]).decode()
        v["encryption_pubkey"] = base64.b64encode(validator_public_key(i)).decode()
    state["auth"]["params"] = dict(AUTH)          # room for weight chunks and sealed updates
    state["registry"] = {"params": dict(REGISTRY)}
    state["rounds"] = {"params": dict(ROUNDS)}
    return state


class BountyNet(BridgeNet):
    """Blocks as a node builds them: orchestrators step, the validators extend their votes (their shares
    of closed rounds, decrypted with their X25519 keys), the proposal carries the release tx first."""

    def __init__(self):
        self.accounts = [ALICE.address_bytes, BOB.address_bytes, REGISTRY_ESCROW, BRIDGE_ESCROW]
        super().__init__(state=bridged_rounds_state())
        self.orchs = self.orchestrators()
        self.nodes = [(consensus_address(CONSENSUS[i]), validator_private_key(i)) for i in range(4)]
        self.releases = 0
        self.events = []      # (type, attributes) of every block's end-block events

    def tick(self, txs=()):
        for o in self.orchs:
            report = o.step()
            assert not [e for e in report.errors if "submit" in e], report.errors
        app, height = self.chain.app, self.chain.height + 1
        exts = [(address, app.extend_vote(height, key)) for address, key in self.nodes]
        assert all(app.verify_vote_extension(height, address, ext) for address, ext in exts)
        proposal = app.prepare_proposal(height, self.pending + list(txs), exts)
        assert app.process_proposal(height, proposal)
        self.pending, self.pending_by = [], {}
        self.releases += bool(proposal) and release.is_release(proposal[0])
        result = self.block(proposal)
        self.events += [(e.type, dict(e.attributes)) for e in result.events]
        for r in result.tx_results:
            assert r.code == 0 or (r.codespace, r.code) == ("bridge", 7), (r.codespace, r.code, r.log)
        return result

    def check_conservation(self) -> None:
        super().check_conservation()     # supply + unattested deposits - unattested releases == locked
        supply = bank.supply(self.chain.app.store, self.denom())
        held = sum(bank.balance(self.chain.app.store, a, self.denom()) for a in self.accounts)
        assert held == supply, (held, supply)   # nobody else holds any

    def run_until(self, condition, max_blocks: int = 60) -> int:
        for n in range(1, max_blocks + 1):
            self.tick()
            if condition():
                return n
        raise AssertionError(f"condition not reached in {max_blocks} blocks")

    def vouchers(self, address: bytes) -> int:
        return bank.balance(self.chain.app.store, address, self.denom())

    def locked(self) -> int:
        return self.evm_balance(self.bridge.address)

    def withdraw(self, wallet, amount: int, recipient: str) -> None:
        self.submit(wallet, [MsgWithdraw(evm_chain_id=self.evm_chain_id, token=self.token_bytes, amount=str(amount),
                                         evm_recipient=bytes.fromhex(recipient[2:]))])

    def settled(self) -> bool:
        return not self.query("/bridge/withdrawals")["withdrawals"] and not self.query("/bridge/batches")["batches"] \
            and self.query("/bridge/state")["last_event_nonce"] == self.bridge.functions.event_nonce().call()



def test_bounty_funded_and_paid_in_bridged_tokens_then_withdrawn_to_the_evm():
    torch_net, model = tiny_model()
    _, _, shards = validation(model, samples=400)          # 4 shards of 100
    X, y = digits()
    update = delta_from_torch(model, train_digits(torch_net, X[:-400], y[:-400]))

    net = BountyNet()
    denom = net.denom()
    owner_evm = net.user(1)                                 # minted 10**12 TUSD on the EVM
    trainer_evm, owner_refund_evm = net.w3.eth.accounts[7], net.w3.eth.accounts[8]
    assert net.locked() == 0

    # 1. the owner locks tokens on the EVM; the validators attest the deposit; the owner holds vouchers
    net.deposit(owner_evm, DEPOSIT, ALICE.address_bytes)
    net.run_until(lambda: net.vouchers(ALICE.address_bytes) == DEPOSIT)
    assert net.locked() == DEPOSIT == bank.supply(net.chain.app.store, denom)

    # 2. the bounty is escrowed in vouchers; the weights are uploaded; the model is open
    expiry = net.chain.height + 25        # round 0 closes about 13 blocks after registration
    net.submit(ALICE, [register_msg(model, shards, bounty=Coin.of(denom, BOUNTY), target_score=1_000_000,
                                    expiry_height=expiry)])
    result = net.tick()
    model_id = next(int(dict(e.attributes)["model_id"]) for e in result.tx_results[0].events
                    if e.type == "register_model")
    for m in upload_msgs(model_id, model.weights_bytes):
        net.submit(ALICE, [m])
    net.tick()
    m = net.query("/registry/model", u64(model_id))
    assert (m["status"], m["bounty_denom"], int(m["escrow"])) == ("active", denom, BOUNTY)
    assert net.vouchers(ALICE.address_bytes) == DEPOSIT - BOUNTY
    assert net.vouchers(REGISTRY_ESCROW) == BOUNTY

    # 3. the trainer seals an honest update to round 0's sealing set (the four validators' X25519 keys)
    info = net.query("/rounds/round", u64(model_id, 0))
    net.run_until(lambda: net.chain.height >= info["window_start"] - 1)
    context = seal_context(CHAIN_ID, model_id, 0, BOB.address_bytes)
    envelope = seal(update, sealing_set(info), context, max_total_shares=info["max_total_shares"])
    net.submit(BOB, [MsgSubmitUpdate(model_id=model_id, round=0, parent_version=0, envelope=envelope.encode())])
    net.tick()
    assert net.query("/rounds/round", u64(model_id, 0))["submission_list"][0]["status"] == "sealed"

    # after the window the validators release their shares; the owner reveals the round's shard
    net.run_until(lambda: net.query("/rounds/round", u64(model_id, 0))["submission_list"][0]["status"] == "opened")
    assert net.releases == 1
    proof = shards.proof(1)
    net.submit(ALICE, [MsgRevealShard(model_id=model_id, round=0, shard=shards.shards[1], shard_index=1,
                                      proof=proof.encode())])
    net.run_until(lambda: "closed_height" in net.query("/rounds/round", u64(model_id, 0)))

    # 4. the round closes with a new head; its payout waits for a later round's shard to confirm the gain
    closed = net.query("/rounds/round", u64(model_id, 0))
    [sub] = closed["submission_list"]
    assert closed["new_version"] == 1 and closed["winners"] == [0] and closed["closed_height"] < expiry
    assert closed["payout_pending"] and sub["outcome"] == "accepted" and sub["payout_pending"]
    assert sub["deposit_returned"]
    assert net.vouchers(BOB.address_bytes) == 0

    # 5. the model expires before another round: the pending head is paid in vouchers on the gain that
    #    chose it, out of the bounty's escrow, and the unspent bounty returns to the owner
    net.run_until(lambda: net.query("/registry/model", u64(model_id))["status"] == "closed")
    assert net.chain.height == expiry
    closed = net.query("/rounds/round", u64(model_id, 0))
    paid = int(closed["paid"])
    [sub] = closed["submission_list"]
    assert int(sub["payout"]) == paid and 0 < paid < BOUNTY and not sub["payout_pending"]
    assert sub["payout_denom"] == denom
    assert [a["amount"] for t, a in net.events if t == "payout"] == [f"{paid}{denom}"]
    assert net.vouchers(BOB.address_bytes) == paid
    assert net.query("/rounds/earnings", BOB.address_bytes)["earned"] == {denom: str(paid)}
    m = net.query("/registry/model", u64(model_id))
    assert int(m["escrow"]) == 0 == net.vouchers(REGISTRY_ESCROW) and int(m["paid"]) == paid
    refund = BOUNTY - paid
    assert net.vouchers(ALICE.address_bytes) == DEPOSIT - BOUNTY + refund

    # 6. the trainer withdraws every voucher; the validators sign the batch, it is relayed, tokens arrive;
    #    the owner withdraws everything left
    net.withdraw(BOB, paid, trainer_evm)
    net.tick()
    assert net.vouchers(BOB.address_bytes) == 0 and net.vouchers(BRIDGE_ESCROW) == paid
    net.run_until(lambda: net.settled() and net.evm_balance(trainer_evm) == paid)
    assert net.evm_balance(trainer_evm) == paid
    assert net.locked() == DEPOSIT - paid == bank.supply(net.chain.app.store, denom)
    net.withdraw(ALICE, DEPOSIT - paid, owner_refund_evm)
    net.run_until(lambda: net.settled() and net.evm_balance(owner_refund_evm) == DEPOSIT - paid)
    assert net.locked() == 0 and bank.supply(net.chain.app.store, denom) == 0
    assert net.evm_balance(trainer_evm) + net.evm_balance(owner_refund_evm) == DEPOSIT
    assert net.conservation_checks >= net.chain.height - 1
    print(f"deposited {DEPOSIT}, bounty {BOUNTY}, paid {paid} (withdrawn to the trainer's EVM address), "
          f"refund {refund}; {net.chain.height} blocks, {net.conservation_checks} conservation checks")
