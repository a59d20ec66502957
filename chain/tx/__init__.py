"""The shared vocabulary: the tx envelope and sign bytes, the wire codec, coins, addresses, proofs
and the result-code registry.

Import from the submodules; this face re-exports nothing, so importing one part never loads the rest.
"""
