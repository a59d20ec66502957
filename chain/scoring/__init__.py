"""Deterministic, bit-exact scoring of fixed-point models (docs/scoring.md).

Pure consensus code: integers in, integers out; numpy float64 BLAS only under the exactness rule.
"""
