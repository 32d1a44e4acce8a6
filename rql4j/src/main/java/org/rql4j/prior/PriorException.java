package org.rql4j.prior;

/**
 * A prior that cannot be used: a malformed package (the message names the file and field), a
 * policy without a log-probability, mismatched spaces, or NaN outputs. Says what to do.
 */
public class PriorException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public PriorException(String message) {
    super(message);
  }

  public PriorException(String message, Throwable cause) {
    super(message, cause);
  }
}
