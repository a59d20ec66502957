"""End to end against a real EVM (py-evm in process) with 4 validators running orchestrators:
ERC-20 deposit -> vouchers -> transfers -> withdrawal -> ERC-20 released, across validator-set changes.
After every block the harness checks, per token, chain supply + unattested deposits - unattested
releases == tokens locked in the contract."""
import pytest

from bridgeutil import ALICE, BOB, CONSENSUS, ENC, EVM_KEYS, OPERATORS, BridgeNet, balance
from chain.bridge import evm
from chain.tx.coins import Coin
from chain.bank.messages import MsgSend
from chain.bridge.messages import MsgConfirmBatch, MsgSetEvmAddress, MsgWithdraw
from chain.validators.messages import MsgCreateValidator, MsgUnbond
from chainutil import CHAIN_ID
from client.txbuilder import coins


def withdraw(net, wallet, amount, recipient: str, token=None):
    token = token or net.token
    net.submit(wallet, [MsgWithdraw(evm_chain_id=net.evm_chain_id, token=bytes.fromhex(token.address[2:]),
                                    amount=str(amount), evm_recipient=bytes.fromhex(recipient[2:]))])


def nothing_pending(net):
    state = net.query("/bridge/state")
    return not net.query("/bridge/withdrawals")["withdrawals"] and \
        state["last_event_nonce"] == net.bridge.functions.event_nonce().call()


def test_deposit_pay_withdraw_round_trip():
    net = BridgeNet()
    orchestrators = net.orchestrators()
    user = net.user(1)
    locked_before = net.evm_balance(net.bridge.address)
    net.deposit(user, 5_000, ALICE.address_bytes)
    net.deposit(user, 7, BOB.address_bytes, token=net.token2)
    net.run(orchestrators, lambda: balance(net, ALICE, net.denom()) == 5_000)
    assert balance(net, BOB, net.denom(net.token2)) == 7
    denoms = {d["denom"]: d for d in net.query("/bridge/denoms")["denoms"]}
    assert denoms[net.denom()]["decimals"] == 6 and denoms[net.denom(net.token2)]["decimals"] == 18

    # vouchers are ordinary denoms: sent with MsgSend (fees stay in the native denom)
    net.submit(ALICE, [MsgSend(to_address=BOB.address_bytes, amount=coins({net.denom(): 1_500}))])
    net.block()
    assert balance(net, BOB, net.denom()) == 1_500

    alice_evm, bob_evm = net.w3.eth.accounts[6], net.w3.eth.accounts[7]
    withdraw(net, ALICE, 3_000, alice_evm)
    withdraw(net, BOB, 1_000, bob_evm)
    withdraw(net, BOB, 7, bob_evm, token=net.token2)
    net.block()
    batches = net.query("/bridge/batches")["batches"]
    assert sorted(len(b["transfers"]) for b in batches) == [1, 2]  # one batch per token
    net.run(orchestrators, lambda: nothing_pending(net) and net.evm_balance(bob_evm) == 1_000)
    assert net.evm_balance(alice_evm) == 3_000 and net.evm_balance(bob_evm, net.token2) == 7
    assert balance(net, ALICE, net.denom()) == 500 and balance(net, BOB, net.denom()) == 500
    supply = dict((s["denom"], int(s["amount"])) for s in net.query("/bank/supply")["supply"])
    assert supply[net.denom()] == 1_000 == net.evm_balance(net.bridge.address) - locked_before
    assert net.denom(net.token2) not in supply and net.evm_balance(net.bridge.address, net.token2) == 0
    assert net.conservation_checks > 5


def test_only_a_majority_of_orchestrators_mints():
    net = BridgeNet()
    orchestrators = net.orchestrators()
    net.deposit(net.user(1), 100, ALICE.address_bytes)
    for _ in range(4):  # two of four validators (20 of 40 power) watch the EVM: nothing happens
        for o in orchestrators[:2]:
            o.step()
        net.block()
    assert balance(net, ALICE, net.denom()) == 0
    net.run(orchestrators[:3], lambda: balance(net, ALICE, net.denom()) == 100)


def test_confirmation_depth_delays_claims():
    net = BridgeNet()
    orchestrators = net.orchestrators(confirmations=3)
    net.deposit(net.user(1), 100, ALICE.address_bytes)
    for _ in range(3):
        assert all(not o.step().claims for o in orchestrators)
        net.block()
    net.mine(3)
    net.run(orchestrators, lambda: balance(net, ALICE, net.denom()) == 100, max_rounds=3)


def join_with_evm_key(net, index):
    """OPERATORS[index] bonds a new validator and registers EVM_KEYS[index]."""
    operator, key = OPERATORS[index], EVM_KEYS[index]
    proof = key.sign(evm.address_proof_digest(CHAIN_ID, operator.address_bytes, key.address))
    net.submit(operator, [MsgCreateValidator(consensus_pubkey=CONSENSUS[index], encryption_pubkey=ENC,
                                             bond=Coin.of("ugrad", 10_000_000)),
                          MsgSetEvmAddress(evm_address=key.address, signature=proof)])


def test_validator_set_change_between_deposit_and_withdrawal():
    net = BridgeNet()
    orchestrators = net.orchestrators(range(5))  # validator 4's orchestrator idles until it joins
    net.deposit(net.user(1), 1_000, ALICE.address_bytes)
    net.run(orchestrators, lambda: balance(net, ALICE, net.denom()) == 1_000)

    net.submit(OPERATORS[3], [MsgUnbond()])
    join_with_evm_key(net, 4)
    net.block()
    valsets = net.query("/bridge/valsets")["valsets"]
    assert [v["nonce"] for v in valsets] == [1, 2]
    assert {a for a, _ in valsets[1]["members"]} == {"0x" + k.address.hex() for k in EVM_KEYS[:3] + [EVM_KEYS[4]]}
    # valset 2 is signed by valset 1 (validator 3 included, though it left) and relayed to the contract
    net.run(orchestrators, lambda: net.query("/bridge/state")["contract_valset_nonce"] == 2)
    members, powers, nonce = net.bridge.functions.current_valset().call()
    assert nonce == 2 and sorted(m.lower() for m in members) == sorted(a for a, _ in valsets[1]["members"])

    recipient = net.w3.eth.accounts[8]
    withdraw(net, ALICE, 400, recipient)
    net.block()
    batch = net.query("/bridge/batches")["batches"][0]
    assert batch["valset_nonce"] == 2
    # the validator that left is not in the signing set any more
    signature = EVM_KEYS[3].sign(bytes.fromhex(batch["digest"][2:]))
    net.allow_failures = True
    result = net.block([net.sign_each(OPERATORS[3], MsgConfirmBatch(batch_nonce=batch["nonce"], signature=signature))])
    assert (result.tx_results[0].codespace, result.tx_results[0].code) == ("bridge", 15)
    net.allow_failures = False
    net.run(orchestrators, lambda: nothing_pending(net) and net.evm_balance(recipient) == 400)
    assert balance(net, ALICE, net.denom()) == 600


def test_batch_signed_for_a_replaced_valset_is_rebatched():
    net = BridgeNet()
    orchestrators = net.orchestrators(range(5))
    net.deposit(net.user(1), 1_000, ALICE.address_bytes)
    net.run(orchestrators, lambda: balance(net, ALICE, net.denom()) == 1_000)
    recipient = net.w3.eth.accounts[9]
    withdraw(net, ALICE, 250, recipient)
    net.block()
    assert net.query("/bridge/batches")["batches"][0]["valset_nonce"] == 1
    net.submit(OPERATORS[0], [MsgUnbond()])  # before anyone signed batch 1, the set changes
    join_with_evm_key(net, 4)
    net.block()
    events = []
    original = net.block

    def block_collecting(txs=()):
        result = original(txs)
        events.extend(e for r in result.tx_results for e in r.events)
        events.extend(result.events)
        return result

    net.block = block_collecting
    net.run(orchestrators, lambda: nothing_pending(net) and net.evm_balance(recipient) == 250)
    kinds = [e.type for e in events]
    assert "bridge_batch_cancelled" in kinds  # batch 1 could never pass the contract after valset 2
    assert net.bridge.functions.valset_nonce().call() == 2
    assert net.bridge.functions.last_batch_nonce(net.token.address).call() == 2
    assert balance(net, ALICE, net.denom()) == 750


@pytest.mark.parametrize("relayers", [1, 4])
def test_one_or_many_relayers(relayers):
    net = BridgeNet()
    orchestrators = net.orchestrators(range(relayers), relay=True) + net.orchestrators(range(relayers, 4), relay=False)
    net.deposit(net.user(1), 10, ALICE.address_bytes)
    net.run(orchestrators, lambda: balance(net, ALICE, net.denom()) == 10)
    withdraw(net, ALICE, 10, net.w3.eth.accounts[5])
    net.run(orchestrators, lambda: nothing_pending(net))
    assert net.evm_balance(net.w3.eth.accounts[5]) == 10
