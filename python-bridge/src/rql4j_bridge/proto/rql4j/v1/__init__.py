"""Generated code for ``rql4j/v1/env.proto`` (``env_pb2``, ``env_pb2_grpc``) and ``rql4j/v1/prior.proto`` (``prior_pb2``, ``prior_pb2_grpc``)."""
