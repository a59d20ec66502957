"""A CometBFT light client: headers verified by their validators' signatures from a trusted anchor."""
from client.light.client import LightClient, RPCProvider

__all__ = ["LightClient", "RPCProvider"]
