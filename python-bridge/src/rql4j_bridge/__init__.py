"""rql4j_bridge: the Python half of rql4j.

Serves Gymnasium environments to the JVM over gRPC following the ``rql4j.v1`` contract
(``proto/rql4j/v1/env.proto``): ``rql4j-bridge serve`` starts an :class:`~rql4j_bridge.env_server.EnvServicer`.
"""

__version__ = "0.2.0"

PROTOCOL = "rql4j.v1"

# The contract's revision (ServerInfoResponse.protocol_revision): raised whenever a message or RPC of
# rql4j.v1 changes; the Java client refuses a server of another revision. 2: authentication, the
# add-on reward in MakeRequest, protocol_revision itself.
PROTOCOL_REVISION = 2

__all__ = ["PROTOCOL", "PROTOCOL_REVISION", "__version__"]
