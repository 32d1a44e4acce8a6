package org.rql4j.env;

import java.util.Map;

/** The result of resetting a {@link VectorEnv}: batched first observations and numeric info. */
public record VectorReset(Value observations, Map<String, InfoColumn> info) {}
