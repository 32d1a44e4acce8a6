package org.rql4j.prior;

import ai.djl.ndarray.NDArray;

/**
 * Parameters of a diagonal Gaussian, {@code [B, d]} each; for a squashed-Gaussian prior they are
 * those of the pre-tanh action {@code u}.
 */
public record GaussianParams(NDArray mean, NDArray logStd) {}
