"""Generated protobuf / gRPC code for the rql4j contract (regenerate with scripts/gen_proto.py)."""
