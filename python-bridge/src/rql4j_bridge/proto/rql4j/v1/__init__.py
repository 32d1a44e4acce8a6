"""Generated code for ``rql4j/v1/env.proto``: ``env_pb2`` (messages) and ``env_pb2_grpc`` (service)."""
