"""Result codes of codespace "rounds" (rounds module). Part of consensus: never renumber, never reuse."""
from __future__ import annotations

from chain.tx.errors import ChainError


class RoundNotOpen(ChainError):
    """The round is not taking submissions at this height (before its window opens or after it closed)."""
    codespace, code = "rounds", 1


class UnknownParent(ChainError):
    """The update names a parent version the model does not have."""
    codespace, code = "rounds", 2


class StaleParent(ChainError):
    """The update's parent is neither the model's head nor the head when the round took its first submission."""
    codespace, code = "rounds", 3


class RoundFull(ChainError):
    """The round already holds max_submissions_per_round submissions."""
    codespace, code = "rounds", 4


class DuplicateSubmission(ChainError):
    """That exact envelope was already submitted in this round."""
    codespace, code = "rounds", 5


class UnknownSubmission(ChainError):
    """No submission with that model, round and sequence number."""
    codespace, code = "rounds", 6


class UpdateDecodeError(ChainError):
    """The opened update is not a canonical Weights message of int32/int64 tensors (the delta format)."""
    codespace, code = "rounds", 7


class UpdateShapeMismatch(ChainError):
    """The opened update's delta tensors do not have the parent version's count and shapes."""
    codespace, code = "rounds", 8


class UpdateOutOfRange(ChainError):
    """Parent + delta leaves the spec's weight or bias range (no clipping: the update is invalid)."""
    codespace, code = "rounds", 9


class CopiedUpdate(ChainError):
    """The opened update's plaintext equals an update of this model opened earlier: the first keeps the credit."""
    codespace, code = "rounds", 10


class SubmitterRoundFull(ChainError):
    """The signer already holds max_submissions_per_submitter submissions in this round of this model."""
    codespace, code = "rounds", 13


# 20-29: the share-release duty (chain/rounds/withhold.py)
class NothingWithheld(ChainError):
    """No withholding to prove: the submission was not voided by a share shortfall at its release deadline, or its withholding is already proved."""
    codespace, code = "rounds", 20


class InsufficientScoringFee(ChainError):
    """The signer cannot prepay the scoring work its submission (or reveal) causes on top of its deposit."""
    codespace, code = "rounds", 11


class PayloadPruned(ChainError):
    """The round settled and its retention window passed: the payload was deleted; its commitments (envelope and plaintext hashes in the submission record) remain."""
    codespace, code = "rounds", 12


class WithholdingWindowClosed(ChainError):
    """A withholding proof came too late: it must land before the void height + payload_retention_blocks, after which the round's payloads are pruned."""
    codespace, code = "rounds", 21


class WrongPrivacyMode(ChainError):
    """The message is for the other privacy mode: a sealed update to an aggregate-mode model, or a join or
    masked update to an open-mode one."""
    codespace, code = "rounds", 22


class NotCohortMember(ChainError):
    """A masked update from an account that did not join the round, has no cohort, or already submitted."""
    codespace, code = "rounds", 23


class AlreadyJoined(ChainError):
    """The account already joined this round of this aggregate-mode model (one join per account per round)."""
    codespace, code = "rounds", 24

