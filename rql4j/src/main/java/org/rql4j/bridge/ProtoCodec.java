package org.rql4j.bridge;

import com.google.protobuf.UnsafeByteOperations;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.DType;
import org.rql4j.env.InfoColumn;
import org.rql4j.env.Space;
import org.rql4j.env.Tensor;
import org.rql4j.env.Value;
import org.rql4j.proto.v1.BoxSpace;
import org.rql4j.proto.v1.DictSpace;
import org.rql4j.proto.v1.DictValue;
import org.rql4j.proto.v1.DiscreteSpace;
import org.rql4j.proto.v1.MultiBinarySpace;
import org.rql4j.proto.v1.MultiDiscreteSpace;
import org.rql4j.proto.v1.NamedSpace;
import org.rql4j.proto.v1.NamedValue;
import org.rql4j.proto.v1.TupleSpace;
import org.rql4j.proto.v1.TupleValue;

/** Converts between the wire messages of {@code rql4j.v1} and the Java types of {@code org.rql4j.env}. */
public final class ProtoCodec {

  private ProtoCodec() {}

  /** Wire dtype to Java dtype. */
  public static DType dtype(org.rql4j.proto.v1.DType d) {
    return switch (d) {
      case FLOAT32 -> DType.FLOAT32;
      case FLOAT64 -> DType.FLOAT64;
      case INT8 -> DType.INT8;
      case INT16 -> DType.INT16;
      case INT32 -> DType.INT32;
      case INT64 -> DType.INT64;
      case UINT8 -> DType.UINT8;
      case BOOL -> DType.BOOL;
      default -> throw new BridgeException("the server sent a tensor with unknown dtype " + d
          + "; is the bridge (python-bridge) the same version as this library?");
    };
  }

  /** Java dtype to wire dtype. */
  public static org.rql4j.proto.v1.DType dtype(DType d) {
    return org.rql4j.proto.v1.DType.valueOf(d.name());
  }

  /** Wire tensor to Java tensor (copies the bytes once). */
  public static Tensor tensor(org.rql4j.proto.v1.Tensor t) {
    long[] shape = new long[t.getShapeCount()];
    for (int i = 0; i < shape.length; i++) {
      shape[i] = t.getShape(i);
    }
    return new Tensor(dtype(t.getDtype()), shape, t.getData().toByteArray());
  }

  /** Java tensor to wire tensor (shares the bytes, no copy). */
  public static org.rql4j.proto.v1.Tensor tensor(Tensor t) {
    org.rql4j.proto.v1.Tensor.Builder b = org.rql4j.proto.v1.Tensor.newBuilder()
        .setDtype(dtype(t.dtype()))
        .setData(UnsafeByteOperations.unsafeWrap(t.rawData()));
    for (long d : t.shape()) {
      b.addShape(d);
    }
    return b.build();
  }

  /** Wire value to Java value. */
  public static Value value(org.rql4j.proto.v1.Value v) {
    return switch (v.getKindCase()) {
      case TENSOR -> tensor(v.getTensor());
      case DICT -> {
        Map<String, Value> entries = new LinkedHashMap<>();
        for (NamedValue e : v.getDict().getEntriesList()) {
          entries.put(e.getKey(), value(e.getValue()));
        }
        yield new Value.Dict(entries);
      }
      case TUPLE -> {
        List<Value> items = new ArrayList<>();
        for (org.rql4j.proto.v1.Value item : v.getTuple().getItemsList()) {
          items.add(value(item));
        }
        yield new Value.Tuple(items);
      }
      case KIND_NOT_SET -> throw new BridgeException("the server sent an empty value");
    };
  }

  /** Java value to wire value. */
  public static org.rql4j.proto.v1.Value value(Value v) {
    org.rql4j.proto.v1.Value.Builder b = org.rql4j.proto.v1.Value.newBuilder();
    if (v instanceof Tensor t) {
      b.setTensor(tensor(t));
    } else if (v instanceof Value.Dict d) {
      DictValue.Builder db = DictValue.newBuilder();
      d.entries().forEach((k, x) -> db.addEntries(NamedValue.newBuilder().setKey(k).setValue(value(x))));
      b.setDict(db);
    } else {
      TupleValue.Builder tb = TupleValue.newBuilder();
      for (Value x : ((Value.Tuple) v).items()) {
        tb.addItems(value(x));
      }
      b.setTuple(tb);
    }
    return b.build();
  }

  private static long[] shape(List<Long> dims) {
    return dims.stream().mapToLong(Long::longValue).toArray();
  }

  /** Wire space to Java space. */
  public static Space space(org.rql4j.proto.v1.Space s) {
    return switch (s.getKindCase()) {
      case DISCRETE -> {
        DiscreteSpace d = s.getDiscrete();
        yield new Space.Discrete(d.getN(), d.getStart());
      }
      case BOX -> {
        BoxSpace b = s.getBox();
        yield new Space.Box(shape(b.getShapeList()), dtype(b.getDtype()),
            tensor(b.getLow()).toDoubleArray(), tensor(b.getHigh()).toDoubleArray());
      }
      case MULTI_DISCRETE -> {
        MultiDiscreteSpace m = s.getMultiDiscrete();
        Tensor nvec = tensor(m.getNvec());
        yield new Space.MultiDiscrete(nvec.shape(), nvec.toLongArray(),
            tensor(m.getStart()).toLongArray(), dtype(m.getDtype()));
      }
      case MULTI_BINARY -> new Space.MultiBinary(shape(s.getMultiBinary().getShapeList()));
      case DICT -> {
        Map<String, Space> spaces = new LinkedHashMap<>();
        for (NamedSpace e : s.getDict().getEntriesList()) {
          spaces.put(e.getKey(), space(e.getSpace()));
        }
        yield new Space.Dict(spaces);
      }
      case TUPLE -> {
        List<Space> spaces = new ArrayList<>();
        for (org.rql4j.proto.v1.Space x : s.getTuple().getSpacesList()) {
          spaces.add(space(x));
        }
        yield new Space.Tuple(spaces);
      }
      case KIND_NOT_SET -> throw new BridgeException("the server sent an empty space");
    };
  }

  /** Java space to wire space (used by in-process test servers). */
  public static org.rql4j.proto.v1.Space space(Space s) {
    org.rql4j.proto.v1.Space.Builder b = org.rql4j.proto.v1.Space.newBuilder();
    if (s instanceof Space.Discrete d) {
      b.setDiscrete(DiscreteSpace.newBuilder().setN(d.n()).setStart(d.start()));
    } else if (s instanceof Space.Box box) {
      BoxSpace.Builder bb = BoxSpace.newBuilder().setDtype(dtype(box.dtype()))
          .setLow(tensor(Tensor.ofDoubles(box.low(), box.shape())))
          .setHigh(tensor(Tensor.ofDoubles(box.high(), box.shape())));
      for (long d : box.shape()) {
        bb.addShape(d);
      }
      b.setBox(bb);
    } else if (s instanceof Space.MultiDiscrete m) {
      b.setMultiDiscrete(MultiDiscreteSpace.newBuilder()
          .setNvec(tensor(Tensor.ofLongs(m.nvec(), m.shape())))
          .setStart(tensor(Tensor.ofLongs(m.start(), m.shape())))
          .setDtype(dtype(m.dtype())));
    } else if (s instanceof Space.MultiBinary mb) {
      MultiBinarySpace.Builder mbb = MultiBinarySpace.newBuilder();
      for (long d : mb.shape()) {
        mbb.addShape(d);
      }
      b.setMultiBinary(mbb);
    } else if (s instanceof Space.Dict d) {
      DictSpace.Builder db = DictSpace.newBuilder();
      d.spaces().forEach((k, x) -> db.addEntries(NamedSpace.newBuilder().setKey(k).setSpace(space(x))));
      b.setDict(db);
    } else {
      TupleSpace.Builder tb = TupleSpace.newBuilder();
      for (Space x : ((Space.Tuple) s).spaces()) {
        tb.addSpaces(space(x));
      }
      b.setTuple(tb);
    }
    return b.build();
  }

  /** Wire info map to Java info columns. */
  public static Map<String, InfoColumn> info(Map<String, org.rql4j.proto.v1.InfoColumn> info) {
    if (info.isEmpty()) {
      return Map.of();
    }
    Map<String, InfoColumn> out = new LinkedHashMap<>();
    info.forEach((k, c) -> out.put(k, new InfoColumn(
        tensor(c.getValues()).toDoubleArray(), tensor(c.getPresent()).toBooleanArray())));
    return Collections.unmodifiableMap(out);
  }

  /** Wire autoreset mode to Java (unspecified is the contract's default, SAME_STEP). */
  public static AutoresetMode autoreset(org.rql4j.proto.v1.AutoresetMode m) {
    return switch (m) {
      case NEXT_STEP -> AutoresetMode.NEXT_STEP;
      case DISABLED -> AutoresetMode.DISABLED;
      default -> AutoresetMode.SAME_STEP;
    };
  }

  /** Java autoreset mode to wire. */
  public static org.rql4j.proto.v1.AutoresetMode autoreset(AutoresetMode m) {
    return org.rql4j.proto.v1.AutoresetMode.valueOf(m.name());
  }

}
