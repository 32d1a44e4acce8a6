package org.rql4j.prior;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rql4j.env.DType;
import org.rql4j.env.Space;

/**
 * Reads and validates a prior package's sidecar ({@code prior.json}, format {@code rql4j-prior/1};
 * docs/prior-package.md). Every refusal names the file and the field and says what to do.
 */
public final class PriorPackage {

  /** The sidecar's file name inside a package. */
  public static final String SIDECAR = "prior.json";
  /** The only format this version reads. */
  public static final String FORMAT = "rql4j-prior/1";

  private PriorPackage() {}

  /**
   * The module file of a package, as its sidecar names it, checked by {@link #moduleFile(Path, String)}.
   *
   * @throws PriorException when the file breaks the package-folder rule or is not a file
   */
  public static Path moduleFile(PriorSpec spec) {
    JsonObject module = JsonParser.parseString(spec.sidecarJson()).getAsJsonObject().getAsJsonObject("module");
    return moduleFile(spec.packageDir(), module.get("file").getAsString());
  }

  /**
   * Resolves a sidecar's {@code module.file} against the package folder {@code dir} under the rule
   * both loaders apply (this one and the Python bridge's {@code load_prior_package};
   * docs/prior-package.md): the value must be a relative path, must not lead out of the folder
   * with {@code ..} (even to come back in), must name a file, and that file's real path (symbolic
   * links followed) must lie inside the folder's real path. A package therefore never makes rql4j
   * read a file outside its own folder.
   *
   * @param dir the package folder
   * @param file the sidecar's {@code module.file} value
   * @return {@code dir.resolve(file)}
   * @throws PriorException naming the sidecar, the path and the rule it breaks
   */
  public static Path moduleFile(Path dir, String file) {
    String where = dir.resolve(SIDECAR) + ": field 'module.file' ('" + file + "') ";
    String fix = "; name the TorchScript file by its path relative to the package folder " + dir
        + " and keep it inside that folder (or re-export the prior with `rql4j-bridge export`)";
    Path relative;
    try {
      relative = Path.of(file);
    } catch (java.nio.file.InvalidPathException e) {
      throw new PriorException(where + "is not a valid path (" + e.getReason() + ")" + fix, e);
    }
    if (relative.isAbsolute() || file.startsWith("/") || file.startsWith("\\")) {
      throw new PriorException(where + "is an absolute path" + fix);
    }
    if (relative.normalize().startsWith("..")) {
      throw new PriorException(where + "leads out of the package folder with '..'" + fix);
    }
    Path module = dir.resolve(relative);
    if (!Files.isRegularFile(module)) {
      throw new PriorException(where + "is not a file in the package folder " + dir + fix);
    }
    Path real;
    Path realDir;
    try {
      real = module.toRealPath();
      realDir = dir.toRealPath();
    } catch (IOException e) {
      throw new PriorException(where + "cannot be resolved: " + e.getMessage() + fix, e);
    }
    if (!real.startsWith(realDir)) {
      throw new PriorException(where + "leads to " + real + ", outside the package folder " + realDir
          + " (symbolic links followed)" + fix);
    }
    return module;
  }

  /** Reads {@code dir/prior.json}. */
  public static PriorSpec read(Path dir) {
    Path file = dir.resolve(SIDECAR);
    if (!Files.isDirectory(dir)) {
      throw new PriorException("prior package " + dir + " is not a folder; pass the folder that "
          + "`rql4j-bridge export` wrote (it holds " + SIDECAR + " and the TorchScript module)");
    }
    if (!Files.isRegularFile(file)) {
      throw new PriorException(file + " is missing: " + dir + " is not a prior package. Make one with "
          + "`rql4j-bridge export --kind ... --checkpoint ... --out " + dir + "`");
    }
    String json;
    try {
      json = Files.readString(file);
    } catch (IOException e) {
      throw new PriorException("cannot read " + file + ": " + e.getMessage(), e);
    }
    PriorSpec spec = parse(json, file.toString(), dir);
    moduleFile(spec);
    return spec;
  }

  /** Parses and validates sidecar JSON; {@code where} names it in errors. */
  public static PriorSpec parse(String json, String where, Path dir) {
    JsonObject root;
    try {
      JsonElement e = JsonParser.parseString(json);
      if (!e.isJsonObject()) {
        throw new PriorException(where + " is not a JSON object; re-export the prior");
      }
      root = e.getAsJsonObject();
    } catch (JsonParseException e) {
      throw new PriorException(where + " is not valid JSON (" + e.getMessage() + "); re-export the prior", e);
    }
    Fields f = new Fields(root, where);
    String format = f.string("format");
    if (!FORMAT.equals(format)) {
      throw f.error("format", "is '" + format + "', but this version of rql4j reads '" + FORMAT + "'");
    }
    String name = f.string("name");
    String distName = f.string("distribution");
    Distribution dist = Distribution.fromSidecar(distName);
    if (dist == null) {
      throw f.error("distribution", "is '" + distName + "'; expected categorical, diag_gaussian or "
          + "squashed_gaussian (a deterministic policy has no log-probability: wrap it with a noise model at export)");
    }
    Space obsSpace = space(f.object("observation_space"), where, "observation_space");
    Space actSpace = space(f.object("action_space"), where, "action_space");
    if (dist == Distribution.CATEGORICAL && !(actSpace instanceof Space.Discrete)) {
      throw f.error("action_space", "is " + actSpace + ", but a categorical prior needs a Discrete action space");
    }
    if (dist.isGaussian() && !(actSpace instanceof Space.Box)) {
      throw f.error("action_space", "is " + actSpace + ", but a " + distName + " prior needs a Box action space");
    }
    Fields obs = new Fields(f.object("observation"), where, "observation.");
    String flatten = obs.string("flatten");
    if (!flatten.equals("none") && !flatten.equals("gymnasium")) {
      throw obs.error("flatten", "is '" + flatten + "'; expected 'none' or 'gymnasium'");
    }
    if (flatten.equals("none") && !(obsSpace instanceof Space.Box)) {
      throw obs.error("flatten", "is 'none', which needs a Box observation_space, but it is "
          + org.rql4j.env.SupportedSpaces.describe(obsSpace) + ": use 'gymnasium'");
    }
    int obsDim = obs.integer("dim");
    if (obsDim != obsSpace.flatDim()) {
      throw obs.error("dim", "is " + obsDim + " but the observation space " + obsSpace + " flattens to "
          + obsSpace.flatDim());
    }
    double[] low = null;
    double[] high = null;
    if (dist.isGaussian()) {
      Fields scaling = new Fields(f.object("action_scaling"), where, "action_scaling.");
      String kind = scaling.string("kind");
      String expected = dist == Distribution.SQUASHED_GAUSSIAN ? "tanh_to_box" : "clip_to_box";
      if (!kind.equals(expected)) {
        throw scaling.error("kind", "is '" + kind + "'; a " + distName + " prior uses '" + expected + "'");
      }
      low = numbers(scaling.array("low"), where, "action_scaling.low");
      high = numbers(scaling.array("high"), where, "action_scaling.high");
      if (low.length != actSpace.flatDim() || high.length != actSpace.flatDim()) {
        throw scaling.error("low", "and 'high' must have " + actSpace.flatDim() + " entries (the action space's size)");
      }
    }
    double temperature = root.has("temperature") && !root.get("temperature").isJsonNull()
        ? f.number("temperature") : Double.NaN;
    Fields module = new Fields(f.object("module"), where, "module.");
    module.string("file");
    JsonArray outputs = module.array("outputs");
    int expectedOutputs = dist == Distribution.CATEGORICAL ? 1 : 2;
    if (outputs.size() != expectedOutputs) {
      throw module.error("outputs", "lists " + outputs.size() + " outputs; a " + distName + " module returns "
          + (expectedOutputs == 1 ? "[log_probs]" : "[mean, log_std]"));
    }
    Fields source = new Fields(f.object("source"), where, "source.");
    source.string("kind");
    String sha = root.getAsJsonObject("source").has("sha256") && !root.getAsJsonObject("source").get("sha256").isJsonNull()
        ? source.string("sha256") : null;
    f.object("made_by");
    f.object("versions");
    return new PriorSpec(name, dist, obsSpace, actSpace, obsDim, flatten, low, high, temperature, sha, dir, json);
  }

  private static double[] numbers(JsonArray a, String where, String field) {
    double[] out = new double[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = number(a.get(i), where, field + "[" + i + "]");
    }
    return out;
  }

  private static double number(JsonElement e, String where, String field) {
    if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
      String s = e.getAsString();
      if (s.equals("inf")) {
        return Double.POSITIVE_INFINITY;
      }
      if (s.equals("-inf")) {
        return Double.NEGATIVE_INFINITY;
      }
    }
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
      throw new PriorException(where + ": field '" + field + "' must be a number (or \"inf\"/\"-inf\"), got " + e);
    }
    return e.getAsDouble();
  }

  /** Parses the sidecar's space JSON. */
  static Space space(JsonObject o, String where, String field) {
    Fields f = new Fields(o, where, field + ".");
    String type = f.string("type");
    switch (type) {
      case "Discrete":
        return new Space.Discrete(f.integer("n"), o.has("start") ? f.integer("start") : 0);
      case "Box": {
        JsonArray shapeJson = f.array("shape");
        long[] shape = new long[shapeJson.size()];
        for (int i = 0; i < shape.length; i++) {
          shape[i] = shapeJson.get(i).getAsLong();
        }
        DType dtype;
        try {
          dtype = DType.valueOf(f.string("dtype").toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
          throw f.error("dtype", "is '" + f.string("dtype") + "', not a numpy dtype rql4j knows");
        }
        double[] low = numbers(f.array("low"), where, field + ".low");
        double[] high = numbers(f.array("high"), where, field + ".high");
        try {
          return new Space.Box(shape, dtype, low, high);
        } catch (IllegalArgumentException e) {
          throw f.error("low", "and 'high' do not fit the shape: " + e.getMessage());
        }
      }
      case "MultiDiscrete": {
        double[] nvec = numbers(f.array("nvec"), where, field + ".nvec");
        long[] n = new long[nvec.length];
        for (int i = 0; i < n.length; i++) {
          n[i] = (long) nvec[i];
        }
        long[] start = new long[n.length];
        if (o.has("start") && !o.get("start").isJsonNull()) {
          double[] st = numbers(f.array("start"), where, field + ".start");
          if (st.length != n.length) {
            throw f.error("start", "has " + st.length + " entries but 'nvec' has " + n.length);
          }
          for (int i = 0; i < n.length; i++) {
            start[i] = (long) st[i];
          }
        }
        return new Space.MultiDiscrete(new long[] {n.length}, n, start, DType.INT64);
      }
      case "MultiBinary": {
        JsonElement n = o.get("n");
        long[] shape;
        if (n != null && n.isJsonArray()) {
          shape = new long[n.getAsJsonArray().size()];
          for (int i = 0; i < shape.length; i++) {
            shape[i] = n.getAsJsonArray().get(i).getAsLong();
          }
        } else {
          shape = new long[] {f.integer("n")};
        }
        return new Space.MultiBinary(shape);
      }
      case "Dict": {
        Map<String, Space> spaces = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : f.object("spaces").entrySet()) {
          spaces.put(e.getKey(), space(e.getValue().getAsJsonObject(), where, field + ".spaces." + e.getKey()));
        }
        return new Space.Dict(spaces);
      }
      case "Tuple": {
        List<Space> spaces = new ArrayList<>();
        JsonArray a = f.array("spaces");
        for (int i = 0; i < a.size(); i++) {
          spaces.add(space(a.get(i).getAsJsonObject(), where, field + ".spaces[" + i + "]"));
        }
        return new Space.Tuple(spaces);
      }
      default:
        throw f.error("type", "is '" + type + "'; expected Discrete, Box, MultiDiscrete, MultiBinary, Dict or Tuple");
    }
  }

  /** Typed access to one JSON object's fields with errors that name file and field. */
  private static final class Fields {
    private final JsonObject o;
    private final String where;
    private final String prefix;

    Fields(JsonObject o, String where) {
      this(o, where, "");
    }

    Fields(JsonObject o, String where, String prefix) {
      this.o = o;
      this.where = where;
      this.prefix = prefix;
    }

    PriorException error(String field, String what) {
      return new PriorException(where + ": field '" + prefix + field + "' " + what + ". Re-export the prior with "
          + "`rql4j-bridge export`, or fix the field (docs/prior-package.md).");
    }

    private JsonElement get(String field) {
      JsonElement e = o.get(field);
      if (e == null || e.isJsonNull()) {
        throw new PriorException(where + ": required field '" + prefix + field + "' is missing. Re-export the "
            + "prior with `rql4j-bridge export` (docs/prior-package.md lists the fields).");
      }
      return e;
    }

    String string(String field) {
      JsonElement e = get(field);
      if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
        throw error(field, "must be a string, got " + e);
      }
      return e.getAsString();
    }

    int integer(String field) {
      JsonElement e = get(field);
      if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()
          || e.getAsDouble() != Math.rint(e.getAsDouble())) {
        throw error(field, "must be a whole number, got " + e);
      }
      return e.getAsInt();
    }

    double number(String field) {
      JsonElement e = get(field);
      return PriorPackage.number(e, where, prefix + field);
    }

    JsonObject object(String field) {
      JsonElement e = get(field);
      if (!e.isJsonObject()) {
        throw error(field, "must be a JSON object, got " + e);
      }
      return e.getAsJsonObject();
    }

    JsonArray array(String field) {
      JsonElement e = get(field);
      if (!e.isJsonArray()) {
        throw error(field, "must be a JSON array, got " + e);
      }
      return e.getAsJsonArray();
    }
  }

  /**
   * sha256 (hex) over a package's sidecar and module bytes: what a saved policy or a training
   * checkpoint records to refuse a different prior later.
   */
  public static String contentHash(Path pkg) throws java.io.IOException {
    try {
      java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
      md.update(java.nio.file.Files.readAllBytes(pkg.resolve(SIDECAR)));
      md.update(java.nio.file.Files.readAllBytes(moduleFile(read(pkg))));
      return java.util.HexFormat.of().formatHex(md.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * What a training checkpoint or a finished run records to recognise its prior: the package's
   * {@link #contentHash} for a prior loaded from a package, else {@code "in-memory prior <name>"}.
   */
  public static String identity(PriorSpec spec) throws java.io.IOException {
    Path dir = spec.packageDir();
    return dir == null ? "in-memory prior " + spec.name() : contentHash(dir);
  }
}
