package org.rql4j.train;

/** Raised when the env fails mid-run; says where the run was saved and how to resume it. */
public final class TrainingException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final long step;

  /** A failure at env step {@code step}; {@code message} says what was saved and how to resume. */
  public TrainingException(String message, long step, Throwable cause) {
    super(message, cause);
    this.step = step;
  }

  /** Env steps completed (and saved, when checkpointing) before the failure. */
  public long step() {
    return step;
  }
}
