"""rql4j_bridge: the Python half of rql4j.

Serves Gymnasium environments to the JVM over gRPC following the ``rql4j.v1`` contract
(``proto/rql4j/v1/env.proto``): ``rql4j-bridge serve`` starts an :class:`~rql4j_bridge.env_server.EnvServicer`.
"""

__version__ = "0.1.0"

PROTOCOL = "rql4j.v1"

__all__ = ["PROTOCOL", "__version__"]
