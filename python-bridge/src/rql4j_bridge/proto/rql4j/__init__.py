"""Generated code for the ``rql4j`` proto package."""
