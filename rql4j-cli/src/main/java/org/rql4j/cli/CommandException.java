package org.rql4j.cli;

/**
 * A command failed for a reason its message states in full (a child run that exited with an
 * error, an interrupted table): {@link Main} prints the message alone and exits with 1, as for the
 * library's own failures, not as for an internal error.
 */
final class CommandException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  CommandException(String message, Throwable cause) {
    super(message, cause);
  }
}
