"""A bounty funded and paid in bridged tokens on a real 4-validator CometBFT testnet (issue 7's end-to-end
test), with the SDK as users run it:

  the owner's EVM account locks ERC-20 tokens in the bridge contract -> the validators' orchestrators (one
  per node, over RPC) attest the deposit -> the owner holds vouchers, on every node (one read Merkle-proven)
  -> Owner.register escrows a bounty in vouchers on a digits MLP (bond and deposit in ugrad) -> a trainer
  (Trainer SDK, its digits never leave the process) submits an honest update in round r; Owner.auto_reveal
  reveals the round's shard, the validators open and score it, the round closes with a new head whose payout
  waits -> the trainer submits again in a later round; that round's close scores the pending head on its
  fresh shard and pays round r's head in vouchers -> the trainer withdraws every voucher to an EVM address ->
  the validators sign the batch, validator 0's orchestrator relays it -> the address holds exactly the payout
  in ERC-20; voucher supply == tokens locked in the contract; all four nodes agree on every app hash.

The orchestrators step (and py-evm mines a block) throughout, as they would run beside real nodes: the
SDK's blocking calls run in a worker thread with its own connections while this thread `drive`s."""
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor

import pytest

from chain.bridge.keeper import voucher_denom
from chain.bridge.messages import MsgWithdraw
from client import Client
from client.owner import Owner
from client.trainer import Trainer
from client.wallet import Wallet
from nodeutil import ROOT, height, rpc
from relayer.evm import Evm
from relayer.testnet import bridged_testnet

pytestmark = pytest.mark.integration
torch = pytest.importorskip("torch")
sys.path.insert(0, str(ROOT / "tests" / "registry"))
from registryutil import digits, tiny_model, train_digits, u64, validation  # noqa: E402

OPERATORS = [Wallet.from_seed(bytes([0xa0 + i]) * 32) for i in range(4)]
FAUCET = Wallet.from_seed(b"\xaf" * 32)
DEPOSIT = 1_000_000          # 1 TUSD (6 decimals) locked by the owner
BOUNTY = 400_000             # of which the bounty
VALIDATION = 400             # the last 400 digits: 4 hidden shards of 100; the trainer trains on the rest
ROUND_BLOCKS = 8



def test_bounty_in_vouchers_paid_and_withdrawn_across_a_real_testnet(tmp_path):
    preset = tomllib.loads((ROOT / "config/local.toml").read_text())
    _, model = tiny_model()                                   # a digits MLP 64-16-10, untrained
    X_val, y_val, _ = validation(model, samples=VALIDATION)
    X, y = digits()
    X_train, y_train = X[:-VALIDATION], y[:-VALIDATION]
    started = time.monotonic()
    with bridged_testnet(tmp_path, "bridge-bounty-1", preset, OPERATORS, FAUCET) as net:
        w3, token, bridge, urls, clients, drive = net.w3, net.token, net.bridge, net.urls, net.clients, net.drive
        up = time.monotonic()
        denom = voucher_denom(w3.eth.chain_id, bytes.fromhex(token.address[2:]))
        owner_evm, trainer_evm = w3.eth.accounts[1], w3.eth.accounts[2]
        owner, trainer = Wallet.generate(), Wallet.generate()

        def locked() -> int:
            return token.functions.balanceOf(bridge.address).call()

        def settled() -> bool:
            return (not clients[0].query_json("/bridge/withdrawals")["withdrawals"]
                    and not clients[0].query_json("/bridge/batches")["batches"]
                    and clients[0].query_json("/bridge/state")["last_event_nonce"] == bridge.functions.event_nonce().call())

        # 1. the owner's EVM account locks tokens; the validators attest the deposit; vouchers on every node
        net.deployer.transact(token.functions.mint(owner_evm, DEPOSIT))
        Evm(w3, owner_evm).deposit(bridge, token, DEPOSIT, owner.address_bytes)
        drive(lambda: clients[3].balances(owner.address).get(denom) == DEPOSIT)
        deposited = time.monotonic()
        assert clients[1].balance(owner.address, denom, prove=True) == DEPOSIT     # Merkle-proven, another node
        assert clients[0].supply()[denom] == locked() == DEPOSIT
        assert token.functions.balanceOf(owner_evm).call() == 0
        clients[0].send(FAUCET, owner.address, {"ugrad": 100_000_000})   # bond, deposit, fees stay in ugrad
        clients[0].send(FAUCET, trainer.address, {"ugrad": 10_000_000})

        # 2. the owner registers the model with the bounty in vouchers; the trainer submits in round r and in
        #    a later round; auto_reveal reveals both rounds' shards. The SDK blocks, so it runs in a worker
        #    thread (its own connections) while this thread keeps the EVM and the orchestrators going.
        def rounds() -> dict:
            with Client(urls[0]) as owner_client, Client(urls[2]) as trainer_client:
                reg = Owner(owner_client, owner).register(
                    model, X_val, y_val, shard_size=100, bounty=(denom, BOUNTY), bond="1000000ugrad",
                    deposit="10000ugrad", target_score=950_000, min_improvement=10_000, max_regression=100_000,
                    expiry_blocks=400, round_blocks=ROUND_BLOCKS, reveal_blocks=ROUND_BLOCKS, progress=False)
                registered = {"model": Owner(owner_client, owner).model(reg.model_id),
                              "owner_vouchers": owner_client.balances(owner.address).get(denom, 0)}
                sdk = Trainer(trainer_client, trainer)
                with Owner(owner_client, owner).auto_reveal(reg.model_id, reg.shards):
                    first = sdk.train_and_submit(reg.model_id, X_train, y_train, progress=False,
                                                 train=lambda n, X_, y_: train_digits(n, X_, y_))
                    first_settled = sdk.wait_for_result(first, timeout=120, progress=False)
                    # round r closed: version 1 is the head, its payout pending. Another training step on the
                    # new head, in the round open now (or the next if too little of it is left): a later round
                    # whose close confirms version 1's gain on its own shard.
                    second = sdk.train_and_submit(reg.model_id, X_train, y_train, progress=False,
                                                  train=lambda n, X_, y_: train_digits(n, X_, y_, 5, 0.002))
                    second_settled = sdk.wait_for_result(second, timeout=120, progress=False)
                    first_paid = sdk.wait_for_result(first, timeout=60, progress=False, paid=True)
                return dict(registered, model_id=reg.model_id, first=first, second=second,
                            first_settled=first_settled, second_settled=second_settled, first_paid=first_paid)

        with ThreadPoolExecutor(1) as pool:
            future = pool.submit(rounds)
            drive(future.done, timeout=180)
            run = future.result()
        rounds_done = time.monotonic()
        model_id, first, second = run["model_id"], run["first"], run["second"]
        m = run["model"]
        assert (m["status"], m["bounty_denom"], int(m["escrow"])) == ("active", denom, BOUNTY)
        assert run["owner_vouchers"] == DEPOSIT - BOUNTY

        # 3. round r chose version 1 (pending); the later round's close confirmed and paid it, in vouchers
        assert second.round > first.round
        assert run["first_settled"]["outcome"] == "accepted" and run["first_settled"]["payout_pending"]
        assert run["second_settled"]["status"] == "settled" and run["second_settled"]["deposit_returned"]
        head_round = clients[1].query_json("/rounds/round", u64(model_id, first.round))
        confirming = clients[1].query_json("/rounds/round", u64(model_id, second.round))
        paid = int(head_round["paid"])
        [sub] = head_round["submission_list"]
        assert head_round["new_version"] == 1 and head_round["winners"] == [first.seq]
        assert head_round["confirmed_round"] == second.round and head_round["confirmed_gain"] > 0
        assert head_round["paid_height"] == confirming["closed_height"]
        assert int(sub["payout"]) == int(run["first_paid"]["payout"]) == paid and 0 < paid <= BOUNTY
        assert sub["payout_denom"] == denom and not sub["payout_pending"]
        assert clients[3].balances(trainer.address)[denom] == paid
        assert clients[2].balance(trainer.address, denom, prove=True) == paid
        earnings = clients[0].query_json("/rounds/earnings", trainer.address_bytes)
        assert earnings["earned"] == {denom: str(paid)} and earnings["forfeited"] == {}
        m = clients[0].query_json("/registry/model", u64(model_id))
        assert m["status"] == "active" and int(m["paid"]) == paid and int(m["escrow"]) == BOUNTY - paid

        # 4. the trainer withdraws every voucher to an EVM address; the batch is signed, relayed, executed
        clients[2].submit(trainer, [MsgWithdraw(evm_chain_id=w3.eth.chain_id, token=bytes.fromhex(token.address[2:]),
                                                amount=str(paid), evm_recipient=bytes.fromhex(trainer_evm[2:]))])
        assert clients[2].balances(trainer.address).get(denom, 0) == 0
        drive(lambda: token.functions.balanceOf(trainer_evm).call() == paid and settled())
        withdrawn = time.monotonic()

        # 5. both chains add up: the trainer's address holds the payout; every voucher left is the owner's or
        #    the bounty escrow's, and the contract holds exactly as many tokens (nothing in flight)
        assert token.functions.balanceOf(trainer_evm).call() == paid
        supply = clients[0].supply()[denom]
        assert supply == locked() == DEPOSIT - paid
        owner_vouchers = clients[1].balances(owner.address)[denom]
        escrow = int(clients[1].query_json("/registry/model", u64(model_id))["escrow"])
        assert owner_vouchers + escrow == supply and owner_vouchers == DEPOSIT - BOUNTY
        top = min(height(u) for u in urls) - 1
        hashes = {h: {rpc(u, "commit", height=str(h))["signed_header"]["header"]["app_hash"] for u in urls}
                  for h in range(1, top + 1)}
        assert all(len(v) == 1 for v in hashes.values()), {h: v for h, v in hashes.items() if len(v) > 1}
        print(f"\ndeposited {DEPOSIT}, bounty {BOUNTY}; round {first.round}'s head paid {paid} {denom} when round "
              f"{second.round} closed (confirmed gain {head_round['confirmed_gain']}), withdrawn to the trainer's EVM "
              f"address; supply = locked = {supply}; {top} heights agree on 4 nodes; "
              f"testnet up {up - started:.1f}s, deposit {deposited - up:.1f}s, registration and two rounds "
              f"{rounds_done - deposited:.1f}s, "
              f"withdrawal {withdrawn - rounds_done:.1f}s, total {time.monotonic() - started:.1f}s")
