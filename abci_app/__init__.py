"""Transport and persistence: the ABCI socket server, proto conversion, the LevelDB store, node processes."""
