"""Every registered result code of the chain, for the SDK's typed errors and docs/errors.md."""
from __future__ import annotations

# Importing each module's errors registers its codes (chain.tx.errors holds the registry).
import chain.bank.errors  # noqa: F401
import chain.bridge.errors  # noqa: F401
import chain.registry.errors  # noqa: F401
import chain.rounds.errors  # noqa: F401
import chain.scoring.errors  # noqa: F401
import chain.secagg.errors  # noqa: F401
import chain.sealing.errors  # noqa: F401
import chain.validators.errors  # noqa: F401
from chain.tx.errors import ChainError, registered_errors


def registered_codes() -> dict[tuple[str, int], str]:
    """(codespace, code) -> error name, sorted."""
    return {key: cls.__name__ for key, cls in registered_errors().items()}


def error_class(codespace: str, code: int) -> type[ChainError] | None:
    return registered_errors().get((codespace, code))
