# pragma version ~=0.4.3
"""
@title gradchain Bridge
@notice Locks ERC-20 tokens for gradchain vouchers and releases them on batches signed by the
        gradchain validators (their EVM keys), Gravity-Bridge style.
@dev    Every Deposit, ValsetUpdated and BatchExecuted event carries the next gapless event nonce;
        validators attest them on gradchain strictly in that order.
        The contract mirrors the chain's validator set (EVM address + power). A valset update or a
        batch needs signatures from members holding more than 2/3 of the mirrored power. Signatures
        are over domain-separated digests (tag, this contract, chain id, nonces, content), see
        docs/bridge.md and chain/bridge/evm.py, which computes the same digests.
        Signatures are passed aligned with the current member list; v == 0 means "no signature".
        A signature that does not recover to its member reverts the call.
"""

MAX_VALIDATORS: constant(uint256) = 128
MAX_BATCH: constant(uint256) = 100

VALSET_TAG: constant(bytes32) = keccak256("gradchain-bridge/valset/v1")
BATCH_TAG: constant(bytes32) = keccak256("gradchain-bridge/batch/v1")

event Deposit:
    token: indexed(address)
    sender: indexed(address)
    destination: bytes20
    amount: uint256
    decimals: uint256
    event_nonce: uint256

event ValsetUpdated:
    valset_nonce: indexed(uint256)
    event_nonce: uint256
    validators: DynArray[address, MAX_VALIDATORS]
    powers: DynArray[uint256, MAX_VALIDATORS]

event BatchExecuted:
    token: indexed(address)
    batch_nonce: indexed(uint256)
    event_nonce: uint256

validators: public(DynArray[address, MAX_VALIDATORS])
powers: public(DynArray[uint256, MAX_VALIDATORS])
total_power: public(uint256)
valset_nonce: public(uint256)
event_nonce: public(uint256)
last_batch_nonce: public(HashMap[address, uint256])


@deploy
def __init__(validators: DynArray[address, MAX_VALIDATORS], powers: DynArray[uint256, MAX_VALIDATORS],
             valset_nonce: uint256):
    self._store_valset(validators, powers)
    self.valset_nonce = valset_nonce


@internal
def _store_valset(validators: DynArray[address, MAX_VALIDATORS], powers: DynArray[uint256, MAX_VALIDATORS]):
    assert len(validators) > 0 and len(validators) == len(powers), "malformed valset"
    total: uint256 = 0
    for i: uint256 in range(len(validators), bound=MAX_VALIDATORS):
        assert validators[i] != empty(address), "zero validator address"
        assert powers[i] > 0, "zero power"
        total += powers[i]
    self.validators = validators
    self.powers = powers
    self.total_power = total


@internal
@view
def _check_signatures(digest: bytes32, v: DynArray[uint8, MAX_VALIDATORS], r: DynArray[bytes32, MAX_VALIDATORS],
                      s: DynArray[bytes32, MAX_VALIDATORS]):
    n: uint256 = len(self.validators)
    assert len(v) == n and len(r) == n and len(s) == n, "one signature slot per validator"
    signed: uint256 = 0
    for i: uint256 in range(n, bound=MAX_VALIDATORS):
        if v[i] == 0:
            continue
        assert ecrecover(digest, v[i], r[i], s[i]) == self.validators[i], "invalid signature"
        signed += self.powers[i]
    assert signed * 3 > self.total_power * 2, "signatures hold too little power"


@internal
@view
def _members_hash(validators: DynArray[address, MAX_VALIDATORS], powers: DynArray[uint256, MAX_VALIDATORS]) -> bytes32:
    h: bytes32 = empty(bytes32)
    for i: uint256 in range(len(validators), bound=MAX_VALIDATORS):
        h = keccak256(abi_encode(h, validators[i], powers[i]))
    return h


@external
@view
def valset_digest(validators: DynArray[address, MAX_VALIDATORS], powers: DynArray[uint256, MAX_VALIDATORS],
                  valset_nonce: uint256) -> bytes32:
    return keccak256(abi_encode(VALSET_TAG, self, chain.id, valset_nonce, len(validators),
                                self._members_hash(validators, powers)))


@internal
@view
def _batch_digest(token: address, batch_nonce: uint256, valset_nonce: uint256,
                  recipients: DynArray[address, MAX_BATCH], amounts: DynArray[uint256, MAX_BATCH]) -> bytes32:
    h: bytes32 = empty(bytes32)
    for i: uint256 in range(len(recipients), bound=MAX_BATCH):
        h = keccak256(abi_encode(h, recipients[i], amounts[i]))
    return keccak256(abi_encode(BATCH_TAG, self, chain.id, token, batch_nonce, valset_nonce, len(recipients), h))


@external
@view
def batch_digest(token: address, batch_nonce: uint256, valset_nonce: uint256,
                 recipients: DynArray[address, MAX_BATCH], amounts: DynArray[uint256, MAX_BATCH]) -> bytes32:
    return self._batch_digest(token, batch_nonce, valset_nonce, recipients, amounts)


@external
@view
def current_valset() -> (DynArray[address, MAX_VALIDATORS], DynArray[uint256, MAX_VALIDATORS], uint256):
    return self.validators, self.powers, self.valset_nonce


@internal
def _call_token(token: address, data: Bytes[100]):
    """ERC-20 call that accepts tokens returning nothing (older tokens) as well as `true`."""
    response: Bytes[32] = raw_call(token, data, max_outsize=32)
    if len(response) > 0:
        assert convert(response, bool), "token transfer failed"


@internal
@view
def _balance(token: address) -> uint256:
    response: Bytes[32] = raw_call(token, abi_encode(self, method_id=method_id("balanceOf(address)")),
                                   max_outsize=32, is_static_call=True)
    return convert(response, uint256)


@external
@nonreentrant
def deposit(token: address, amount: uint256, destination: bytes20):
    """Lock `amount` of `token` (approve first) for vouchers credited to gradchain address `destination`."""
    assert amount > 0, "amount must be positive"
    assert token.is_contract, "token is not a contract"
    before: uint256 = self._balance(token)
    self._call_token(token, abi_encode(msg.sender, self, amount,
                                       method_id=method_id("transferFrom(address,address,uint256)")))
    received: uint256 = self._balance(token) - before  # fee-on-transfer tokens: credit what arrived
    assert received > 0, "nothing received"
    decimals: uint256 = 0
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(token, method_id("decimals()"), max_outsize=32, is_static_call=True,
                            revert_on_failure=False)
    if ok and len(response) == 32:
        d: uint256 = convert(response, uint256)
        if d <= 255:
            decimals = d
    self.event_nonce += 1
    log Deposit(token=token, sender=msg.sender, destination=destination, amount=received, decimals=decimals,
                event_nonce=self.event_nonce)


@external
def update_valset(validators: DynArray[address, MAX_VALIDATORS], powers: DynArray[uint256, MAX_VALIDATORS],
                  valset_nonce: uint256, v: DynArray[uint8, MAX_VALIDATORS], r: DynArray[bytes32, MAX_VALIDATORS],
                  s: DynArray[bytes32, MAX_VALIDATORS]):
    """Replace the mirrored set; signed by more than 2/3 of the current set's power."""
    assert valset_nonce > self.valset_nonce, "valset nonce must increase"
    digest: bytes32 = keccak256(abi_encode(VALSET_TAG, self, chain.id, valset_nonce, len(validators),
                                           self._members_hash(validators, powers)))
    self._check_signatures(digest, v, r, s)
    self._store_valset(validators, powers)
    self.valset_nonce = valset_nonce
    self.event_nonce += 1
    log ValsetUpdated(valset_nonce=valset_nonce, event_nonce=self.event_nonce, validators=validators, powers=powers)


@external
@nonreentrant
def submit_batch(token: address, batch_nonce: uint256, valset_nonce: uint256,
                 recipients: DynArray[address, MAX_BATCH], amounts: DynArray[uint256, MAX_BATCH],
                 v: DynArray[uint8, MAX_VALIDATORS], r: DynArray[bytes32, MAX_VALIDATORS],
                 s: DynArray[bytes32, MAX_VALIDATORS]):
    """Release a batch of withdrawals of one token, signed for the current valset."""
    assert valset_nonce == self.valset_nonce, "batch signed for another valset"
    assert batch_nonce > self.last_batch_nonce[token], "batch nonce must increase"
    assert len(recipients) > 0 and len(recipients) == len(amounts), "malformed batch"
    self._check_signatures(self._batch_digest(token, batch_nonce, valset_nonce, recipients, amounts), v, r, s)
    self.last_batch_nonce[token] = batch_nonce
    for i: uint256 in range(len(recipients), bound=MAX_BATCH):
        self._call_token(token, abi_encode(recipients[i], amounts[i], method_id=method_id("transfer(address,uint256)")))
    self.event_nonce += 1
    log BatchExecuted(token=token, batch_nonce=batch_nonce, event_nonce=self.event_nonce)
