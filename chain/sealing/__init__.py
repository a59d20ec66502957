"""Sealed updates (docs/sealing.md): an update's data key is split across the sealing validator set,
weighted by voting power, and the chain rebuilds it and opens the update once >= 2/3 of that power has
released its shares.

Pure consensus code: no clock, randomness, environment, threads or floats. Sealing itself needs
randomness and lives in client/seal.py.
"""
