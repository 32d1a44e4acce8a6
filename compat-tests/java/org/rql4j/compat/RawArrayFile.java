package org.rql4j.compat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads the compat-tests' reference files written by the Python side: one JSON header line with
 * an {@code arrays} list of {@code {name, dtype, shape, offset, nbytes}}, then the raw
 * little-endian C-order bytes (see compat-tests/python/reference_rollout.py).
 */
final class RawArrayFile {

  /** One named array of a reference file. */
  record Array(String name, String dtype, long[] shape, byte[] data) {

    /** Row t of a [T, ...] array. */
    byte[] row(int t) {
      int rowBytes = data.length / (int) shape[0];
      return Arrays.copyOfRange(data, t * rowBytes, (t + 1) * rowBytes);
    }

    private ByteBuffer buffer() {
      return ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    }

    float[] floats() {
      if (!dtype.equals("float32")) {
        throw new IllegalStateException(name + " is " + dtype + ", not float32");
      }
      float[] out = new float[data.length / 4];
      buffer().asFloatBuffer().get(out);
      return out;
    }

    /** Values as doubles, from float32 or float64. */
    double[] doubles() {
      if (dtype.equals("float64")) {
        double[] out = new double[data.length / 8];
        buffer().asDoubleBuffer().get(out);
        return out;
      }
      float[] f = floats();
      double[] out = new double[f.length];
      for (int i = 0; i < f.length; i++) {
        out[i] = f[i];
      }
      return out;
    }

    long[] longs() {
      if (!dtype.equals("int64")) {
        throw new IllegalStateException(name + " is " + dtype + ", not int64");
      }
      long[] out = new long[data.length / 8];
      buffer().asLongBuffer().get(out);
      return out;
    }
  }

  private final JsonObject header;
  private final Map<String, Array> arrays;

  private RawArrayFile(JsonObject header, Map<String, Array> arrays) {
    this.header = header;
    this.arrays = arrays;
  }

  static RawArrayFile read(Path file) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    int nl = 0;
    while (bytes[nl] != '\n') {
      nl++;
    }
    JsonObject head = JsonParser.parseString(new String(bytes, 0, nl, StandardCharsets.UTF_8)).getAsJsonObject();
    Map<String, Array> arrays = new LinkedHashMap<>();
    for (JsonElement e : head.getAsJsonArray("arrays")) {
      JsonObject a = e.getAsJsonObject();
      int offset = nl + 1 + a.get("offset").getAsInt();
      JsonArray shapeJson = a.getAsJsonArray("shape");
      long[] shape = new long[shapeJson.size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = shapeJson.get(i).getAsLong();
      }
      String name = a.get("name").getAsString();
      arrays.put(name, new Array(name, a.get("dtype").getAsString(), shape,
          Arrays.copyOfRange(bytes, offset, offset + a.get("nbytes").getAsInt())));
    }
    return new RawArrayFile(head, arrays);
  }

  /** Writes arrays (float[] as float32, long[] as int64) under a header {@code {format, ...meta, arrays}}. */
  static void write(Path file, String format, JsonObject meta, Map<String, Object> arrays, Map<String, long[]> shapes)
      throws IOException {
    JsonObject head = meta.deepCopy();
    head.addProperty("format", format);
    JsonArray entries = new JsonArray();
    java.io.ByteArrayOutputStream payload = new java.io.ByteArrayOutputStream();
    for (Map.Entry<String, Object> e : arrays.entrySet()) {
      ByteBuffer buf;
      String dtype;
      if (e.getValue() instanceof float[] f) {
        buf = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buf.asFloatBuffer().put(f);
        dtype = "float32";
      } else {
        long[] l = (long[]) e.getValue();
        buf = ByteBuffer.allocate(l.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        buf.asLongBuffer().put(l);
        dtype = "int64";
      }
      JsonObject a = new JsonObject();
      a.addProperty("name", e.getKey());
      a.addProperty("dtype", dtype);
      JsonArray shape = new JsonArray();
      for (long dim : shapes.get(e.getKey())) {
        shape.add(dim);
      }
      a.add("shape", shape);
      a.addProperty("offset", payload.size());
      a.addProperty("nbytes", buf.capacity());
      entries.add(a);
      payload.write(buf.array());
    }
    head.add("arrays", entries);
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    out.write((head + "\n").getBytes(StandardCharsets.UTF_8));
    out.write(payload.toByteArray());
    Files.write(file, out.toByteArray());
  }

  JsonObject header() {
    return header;
  }

  boolean has(String name) {
    return arrays.containsKey(name);
  }

  Array get(String name) {
    Array a = arrays.get(name);
    if (a == null) {
      throw new IllegalArgumentException("reference file has no array '" + name + "'; has " + arrays.keySet());
    }
    return a;
  }
}
