package org.rql4j.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.rql4j.env.AutoresetMode;
import org.rql4j.env.DType;
import org.rql4j.env.Space;
import org.rql4j.env.Tensor;
import org.rql4j.env.Value;

class ProtoCodecTest {

  @Test
  void everySpaceKindRoundTrips() {
    Map<String, Space> dict = new LinkedHashMap<>();
    dict.put("goal", new Space.Box(new long[] {6}, DType.FLOAT64, new double[6], new double[] {1, 1, 1, 1, 1, 1}));
    dict.put("mode", new Space.Discrete(4, 0));
    List<Space> spaces = List.of(
        new Space.Discrete(5, -2),
        new Space.Box(new long[] {2, 2}, DType.FLOAT32,
            new double[] {Double.NEGATIVE_INFINITY, -1, -2, -3},
            new double[] {Double.POSITIVE_INFINITY, 1, 2, 3}),
        new Space.MultiDiscrete(new long[] {3}, new long[] {2, 3, 4}, new long[] {0, 1, 0}, DType.INT64),
        new Space.MultiBinary(new long[] {2, 3}),
        new Space.Dict(dict),
        new Space.Tuple(List.of(new Space.Discrete(2, 0), new Space.Dict(dict))));
    for (Space s : spaces) {
      assertEquals(s, ProtoCodec.space(ProtoCodec.space(s)), s.toString());
    }
  }

  @Test
  void nestedValuesRoundTripBitForBit() {
    Map<String, Value> entries = new LinkedHashMap<>();
    entries.put("a", Tensor.ofFloats(new float[] {Float.NaN, -0f, 1e-39f}, 3));
    entries.put("b", new Value.Tuple(List.of(Tensor.scalar(7L),
        Tensor.ofBooleans(new boolean[] {true, false}))));
    Value v = new Value.Dict(entries);
    assertEquals(v, ProtoCodec.value(ProtoCodec.value(v)));
  }

  @Test
  void autoresetUnspecifiedMeansSameStep() {
    assertEquals(AutoresetMode.SAME_STEP,
        ProtoCodec.autoreset(org.rql4j.proto.v1.AutoresetMode.AUTORESET_MODE_UNSPECIFIED));
    for (AutoresetMode m : AutoresetMode.values()) {
      assertEquals(m, ProtoCodec.autoreset(ProtoCodec.autoreset(m)));
    }
  }
}
