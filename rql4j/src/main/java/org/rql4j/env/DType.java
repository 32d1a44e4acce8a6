package org.rql4j.env;

/** Element type of a {@link Tensor}; names and widths follow numpy. */
public enum DType {
  FLOAT32(4),
  FLOAT64(8),
  INT8(1),
  INT16(2),
  INT32(4),
  INT64(8),
  UINT8(1),
  /** One byte per element, 0 or 1. */
  BOOL(1);

  private final int itemSize;

  DType(int itemSize) {
    this.itemSize = itemSize;
  }

  /** Bytes per element. */
  public int itemSize() {
    return itemSize;
  }

  /** Whether values are floating point. */
  public boolean isFloating() {
    return this == FLOAT32 || this == FLOAT64;
  }
}
