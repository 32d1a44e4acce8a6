package org.rql4j.env;

import java.util.Collection;

/**
 * An env whose copies' state can be copied and put back (method.md, Algorithm 3: tree search
 * needs a simulator it can restore). A snapshot lives where the env does (the Python server keeps
 * a deep copy under a handle) until it is released or its env is closed; servers bound how many
 * they hold, so release what you no longer need.
 */
public interface Snapshottable {

  /** Copies the state of copy {@code index} (reset, not failed) and returns the snapshot's handle. */
  String snapshot(int index);

  /**
   * Puts (a copy of) snapshot {@code snapshotHandle} in place of copy {@code index}; the copy then
   * steps on from the snapshot's state. The snapshot stays usable.
   */
  void restore(int index, String snapshotHandle);

  /** Releases snapshots (unknown or already released handles are ignored); returns how many were held. */
  int releaseSnapshots(Collection<String> snapshotHandles);
}
