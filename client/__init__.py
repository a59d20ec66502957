"""gradchain SDK: wallets, transactions and a client for any node's RPC."""
from client.client import Client
from client.errors import GradchainError, TxFailed
from client.wallet import Keyring, Wallet

__all__ = ["Client", "Wallet", "Keyring", "GradchainError", "TxFailed"]
