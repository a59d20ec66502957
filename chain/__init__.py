"""gradchain state machine: pure, deterministic, no I/O.

Everything a block may read from outside arrives in `chain.context.BlockContext`.
"""
