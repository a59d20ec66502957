"""The shared vocabulary: messages, envelope, codec, sign bytes, result codes.

This is the only part of `chain` the client SDK imports.
"""
from chain.tx.coins import MAX_AMOUNT, Coin, parse_amount, validate_coins, validate_denom
from chain.tx.envelope import DecodedTx, Tx, TxBody, address_of, decode_tx, tx_hash
from chain.tx.messages import Msg, MsgSend

__all__ = [
    "MAX_AMOUNT", "Coin", "parse_amount", "validate_coins", "validate_denom",
    "DecodedTx", "Tx", "TxBody", "address_of", "decode_tx", "tx_hash",
    "Msg", "MsgSend",
]
