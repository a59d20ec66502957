"""Build and sign txs. Pure: no network. See docs/tx-format.md for the byte-level format."""
from __future__ import annotations

from chain.tx.coins import Coin
from chain.tx.envelope import Tx, TxBody
from chain.messages import Msg
from chain.tx.wire import Message
from client.wallet import Wallet


def coins(pairs) -> tuple[Coin, ...]:
    """{denom: amount} or [(denom, amount)] -> the canonical sorted coin list."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    return tuple(Coin.of(d, int(a)) for d, a in sorted(items))


def sign_tx(wallet: Wallet, chain_id: str, sequence: int, messages: list[Message], fee_denom: str,
            fee_amount: int, memo: str = "") -> bytes:
    body = TxBody(chain_id=chain_id, public_key=wallet.public_key, sequence=sequence,
                  fee=Coin.of(fee_denom, fee_amount) if fee_amount else None,
                  messages=tuple(Msg.wrap(m) for m in messages), memo=memo).encode()
    return Tx(body=body, signature=wallet.sign(body)).encode()


def unsigned_body(public_key: bytes, chain_id: str, sequence: int, messages: list[Message], params: dict,
                  memo: str = "") -> bytes:
    """The canonical TxBody bytes for an offline signer (`gradchain tx sign`), carrying the smallest fee the
    chain accepts for the signed tx. An Ed25519 signature is always 64 bytes, so the signed length, and with
    it the fee, is known before signing: signing these bytes gives exactly sign_with_min_fee's tx."""
    fee = 0
    for _ in range(8):
        body = TxBody(chain_id=chain_id, public_key=public_key, sequence=sequence,
                      fee=Coin.of(params["fee_denom"], fee) if fee else None,
                      messages=tuple(Msg.wrap(m) for m in messages), memo=memo).encode()
        required = params["min_fee_base"] + params["min_fee_per_byte"] * len(Tx(body=body, signature=bytes(64)).encode())
        if fee >= required:
            return body
        fee = required
    raise RuntimeError("fee did not converge")


def signed_tx(body: bytes, signature: bytes) -> bytes:
    return Tx(body=body, signature=signature).encode()


def sign_with_min_fee(wallet: Wallet, chain_id: str, sequence: int, messages: list[Message], params: dict,
                      memo: str = "") -> bytes:
    """Sign with the smallest fee the chain accepts. The fee depends on the tx's own length, so
    iterate until the fee written into the tx covers that tx's length (converges in 2-3 steps)."""
    fee = 0
    for _ in range(8):
        raw = sign_tx(wallet, chain_id, sequence, messages, params["fee_denom"], fee, memo)
        required = params["min_fee_base"] + params["min_fee_per_byte"] * len(raw)
        if fee >= required:
            return raw
        fee = required
    raise RuntimeError("fee did not converge")  # unreachable: length grows by at most a few bytes
