"""Error codes are consensus: once registered they keep their number and meaning."""
import importlib.util
from pathlib import Path

from chain.codes import registered_codes

# Append new codes here; never edit or remove a line.
FROZEN = {
    ("tx", 1): "TxDecodeError", ("tx", 2): "TxTooLarge", ("tx", 3): "WrongChainId",
    ("tx", 4): "InvalidSignature", ("tx", 5): "WrongSequence", ("tx", 6): "InsufficientFee",
    ("tx", 7): "InvalidFeeDenom", ("tx", 8): "EmptyTx", ("tx", 9): "TooManyMessages",
    ("tx", 10): "InvalidPublicKey", ("tx", 11): "UnknownMessage", ("tx", 12): "CannotPayFee",
    ("bank", 1): "InsufficientFunds", ("bank", 2): "InvalidAmount", ("bank", 3): "InvalidDenom",
    ("bank", 4): "SupplyOverflow", ("bank", 5): "InvalidAddress", ("bank", 6): "DuplicateDenom",
    ("bank", 7): "TooManyCoins",
    ("bank", 8): "ModuleAccountRecipient", ("bank", 9): "MissingPermission", ("bank", 10): "ModuleAccountSender",
    ("genesis", 1): "InvalidGenesis",
    ("query", 1): "UnknownQuery", ("query", 2): "InvalidQuery", ("query", 3): "HeightNotAvailable",
    ("validators", 1): "ValidatorExists", ("validators", 2): "UnknownValidator",
    ("validators", 3): "BondTooSmall", ("validators", 4): "WrongBondDenom", ("validators", 5): "LastValidator",
    ("validators", 6): "TooManyValidators", ("validators", 7): "InvalidEncryptionKey",
    ("scoring", 1): "SpecDecodeError", ("scoring", 2): "UnsupportedSpecVersion", ("scoring", 3): "UnsupportedLayer",
    ("scoring", 4): "ShapeMismatch", ("scoring", 5): "InvalidFixedPoint", ("scoring", 6): "UnsupportedLoss",
    ("scoring", 7): "ModelTooLarge", ("scoring", 8): "WeightsDecodeError", ("scoring", 9): "WeightOutOfRange",
    ("scoring", 10): "ShardDecodeError", ("scoring", 11): "InvalidShard", ("scoring", 12): "ShardTooLarge",
    ("scoring", 13): "InvalidMerkleProof",
    ("bridge", 1): "BridgeNotConfigured", ("bridge", 2): "WrongEvmChain", ("bridge", 3): "NotBridgeValidator",
    ("bridge", 4): "EvmAddressAlreadySet", ("bridge", 5): "EvmAddressTaken", ("bridge", 6): "InvalidEvmSignature",
    ("bridge", 7): "NonceAlreadyObserved", ("bridge", 8): "NonceTooFarAhead", ("bridge", 9): "DuplicateClaim",
    ("bridge", 10): "ConflictingClaim", ("bridge", 11): "UnknownBridgeDenom", ("bridge", 12): "UnknownBatch",
    ("bridge", 13): "UnknownValset", ("bridge", 14): "NoEvmAddress", ("bridge", 15): "NotInSigningSet",
    ("bridge", 16): "DuplicateConfirm", ("bridge", 17): "WithdrawalNotCancellable", ("bridge", 18): "InvalidEvmAddress",
    ("bridge", 19): "InvalidClaim",
    ("registry", 1): "UnknownModel", ("registry", 2): "NotModelOwner", ("registry", 3): "InvalidRewardCurve",
    ("registry", 4): "InvalidModelTerms", ("registry", 5): "WrongEscrowDenom", ("registry", 6): "ModelNotUploading",
    ("registry", 7): "ModelNotActive", ("registry", 8): "ModelClosed", ("registry", 9): "ChunkOutOfRange",
    ("registry", 10): "DuplicateChunk", ("registry", 11): "ChunkTooLarge", ("registry", 12): "WrongChunkSize",
    ("registry", 13): "WeightsHashMismatch", ("registry", 14): "RevealTooEarly", ("registry", 15): "RevealTooLate",
    ("registry", 16): "ShardAlreadyRevealed", ("registry", 17): "RoundAlreadyRevealed",
    ("registry", 18): "ModelNotExpired", ("registry", 19): "UnknownVersion",
    ("registry", 20): "TooManyOpenModels",
    ("sealing", 1): "MalformedEnvelope", ("sealing", 2): "EnvelopeTooLarge", ("sealing", 3): "ContextMismatch",
    ("sealing", 4): "InvalidSealingSet", ("sealing", 5): "ValidatorSetMismatch",
    ("sealing", 6): "ShareDecryptionFailed", ("sealing", 7): "ShareMismatch", ("sealing", 8): "NotEnoughShares",
    ("sealing", 9): "KeyCommitmentMismatch", ("sealing", 10): "PayloadDecryptionFailed",
    ("sealing", 11): "PlaintextCommitmentMismatch",
    ("rounds", 1): "RoundNotOpen", ("rounds", 2): "UnknownParent", ("rounds", 3): "StaleParent",
    ("rounds", 4): "RoundFull", ("rounds", 5): "DuplicateSubmission", ("rounds", 6): "UnknownSubmission",
    ("rounds", 7): "UpdateDecodeError", ("rounds", 8): "UpdateShapeMismatch", ("rounds", 9): "UpdateOutOfRange",
    ("rounds", 10): "CopiedUpdate",
    ("rounds", 11): "InsufficientScoringFee", ("rounds", 12): "PayloadPruned", ("rounds", 13): "SubmitterRoundFull",
    ("rounds", 21): "WithholdingWindowClosed",
}


def test_codes_never_renumbered():
    codes = registered_codes()
    for key, name in FROZEN.items():
        assert codes.get(key) == name, f"{key} must stay {name}"
    assert set(codes) >= set(FROZEN)


def test_error_docs_are_current():
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("gen", root / "scripts/gen_error_docs.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert (root / "docs/errors.md").read_text() == gen.render(), "run scripts/gen_error_docs.py"
