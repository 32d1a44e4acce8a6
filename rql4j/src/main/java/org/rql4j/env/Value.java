package org.rql4j.env;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An observation or action: a {@link Tensor}, or a nesting of them mirroring Gymnasium's Dict and
 * Tuple spaces. Batched values carry the batch as the leading dimension of every tensor.
 */
public sealed interface Value permits Tensor, Value.Dict, Value.Tuple {

  /** Row {@code i} of a batched value (drops the leading dimension of every tensor). */
  Value row(int i);

  /** Stacks values of the same structure along a new leading dimension. */
  static Value stack(List<? extends Value> rows) {
    if (rows.isEmpty()) {
      throw new IllegalArgumentException("cannot stack an empty list of values");
    }
    Value first = rows.get(0);
    if (first instanceof Tensor) {
      List<Tensor> tensors = new ArrayList<>(rows.size());
      for (Value v : rows) {
        tensors.add((Tensor) v);
      }
      return Tensor.stack(tensors);
    } else if (first instanceof Dict d) {
      Map<String, Value> out = new LinkedHashMap<>();
      for (String key : d.entries().keySet()) {
        List<Value> column = new ArrayList<>(rows.size());
        for (Value v : rows) {
          column.add(((Dict) v).get(key));
        }
        out.put(key, stack(column));
      }
      return new Dict(out);
    } else {
      Tuple t = (Tuple) first;
      List<Value> out = new ArrayList<>();
      for (int k = 0; k < t.items().size(); k++) {
        List<Value> column = new ArrayList<>(rows.size());
        for (Value v : rows) {
          column.add(((Tuple) v).items().get(k));
        }
        out.add(stack(column));
      }
      return new Tuple(out);
    }
  }

  /** A Dict value, entries in the space's key order. */
  record Dict(Map<String, Value> entries) implements Value {
    public Dict {
      entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
    }

    /** The entry named {@code key}; throws naming the known keys when absent. */
    public Value get(String key) {
      Value v = entries.get(key);
      if (v == null) {
        throw new IllegalArgumentException("no key '" + key + "' in dict value; keys: " + entries.keySet());
      }
      return v;
    }

    @Override
    public Value row(int i) {
      Map<String, Value> out = new LinkedHashMap<>();
      entries.forEach((k, v) -> out.put(k, v.row(i)));
      return new Dict(out);
    }
  }

  /** A Tuple value. */
  record Tuple(List<Value> items) implements Value {
    public Tuple {
      items = List.copyOf(items);
    }

    @Override
    public Value row(int i) {
      List<Value> out = new ArrayList<>(items.size());
      for (Value v : items) {
        out.add(v.row(i));
      }
      return new Tuple(out);
    }
  }
}
