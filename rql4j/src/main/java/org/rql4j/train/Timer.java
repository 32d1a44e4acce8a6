package org.rql4j.train;

/** Accumulates wall time of spans ({@code try (Timer.Span s = timer.span()) {...}}). */
final class Timer {

  private long nanos;

  Span span() {
    return new Span(System.nanoTime());
  }

  double seconds() {
    return nanos / 1e9;
  }

  /** Adds time measured elsewhere (a resumed run's earlier part). */
  void add(double seconds) {
    nanos += (long) (seconds * 1e9);
  }

  /** An open span; closing it adds its duration. */
  final class Span implements AutoCloseable {
    private final long start;

    private Span(long start) {
      this.start = start;
    }

    @Override
    public void close() {
      nanos += System.nanoTime() - start;
    }
  }
}
