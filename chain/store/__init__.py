"""Authenticated state: storage backends, the sparse Merkle tree, and block/tx overlays."""
