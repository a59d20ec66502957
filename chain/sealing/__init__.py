"""Sealed updates (docs/sealing.md): an update's data key is split across the sealing validator set,
weighted by voting power, and the chain rebuilds it and opens the update once >= 2/3 of that power has
released its shares.

Pure consensus code: no clock, randomness, environment, threads or floats. Sealing itself needs
randomness and lives in client/seal.py.
"""
from chain.sealing.envelope import (MAX_PAYLOAD_BYTES, SealContext, SealedShare, SealedUpdate, check_envelope,
                                    decode_envelope, envelope_hash, seal_context, validate_envelope)
from chain.sealing.open import (check_share, decrypt_share, open_sealed, open_update, reconstruct,
                                valid_share_count, verify_share)
from chain.sealing.valset import (DEFAULT_MAX_TOTAL_SHARES, TWO_THIRDS, SealValidator, SharePlan,
                                  is_usable_x25519_key, share_plan, validator_set_hash)

__all__ = [
    "DEFAULT_MAX_TOTAL_SHARES", "MAX_PAYLOAD_BYTES", "TWO_THIRDS",
    "SealContext", "SealValidator", "SealedShare", "SealedUpdate", "SharePlan",
    "check_envelope", "check_share", "decode_envelope", "decrypt_share", "envelope_hash",
    "is_usable_x25519_key", "open_sealed", "open_update", "reconstruct", "seal_context", "share_plan",
    "valid_share_count", "validate_envelope", "validator_set_hash", "verify_share",
]
