"""rounds: sealed update submissions per model round (docs/rounds.md).

A trainer submits a sealed envelope (docs/sealing.md) during round r's submission window of an ACTIVE
model, naming the parent version it trained from, and escrows the model's per-update deposit and the prepayment
of its candidate's scoring job (chain/rounds/fees.py) in the module account `rounds_escrow`. The round's sealing set (validator index, X25519 key, power) is snapshotted when
the round takes its first submission, and every envelope of the round must be sealed to it.
"""
