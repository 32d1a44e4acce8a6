package org.rql4j.customize;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * A run's settings from a file (docs/run-folder.md, "Config files"): YAML ({@code .yaml},
 * {@code .yml}) or JSON, with the run's settings at the top ({@code task} or {@code env_id},
 * {@code addon}, {@code prior}, {@code baseline}, {@code eval_episodes}, ...) and any field of the
 * learner config under {@code config} (its Java names: {@code learningRate}, {@code gamma},
 * {@code hidden}, ...). The {@code config.json} every run writes is such a file: passed back, it
 * reproduces the run.
 *
 * <pre>
 * env_id: CartPole-v1
 * addon: mytasks:stay_left
 * prior: examples/priors/cartpole-center-softdqn
 * steps: 20000
 * config:
 *   learningRate: 0.001
 *   hidden: [128, 128]
 * </pre>
 */
public final class ConfigFile {

  /** The keys a file may hold at its top (the learner's fields go under {@code config}). */
  public static final Set<String> KEYS = Set.of("format", "task", "env_id", "eval_env_id", "addon", "imports", "algo",
      "prior", "prior_sha256", "baseline", "eval_episodes", "steps", "seed", "prior_weight", "kl_budget",
      "kl_budget_kappa", "kl_budget_prior_temperature", "kl_budget_greedy_share", "config");

  /** An empty file: every setting from its default or the command line. */
  public static final ConfigFile EMPTY = new ConfigFile(Path.of("(none)"), new JsonObject());

  private final Path file;
  private final JsonObject json;

  private ConfigFile(Path file, JsonObject json) {
    this.file = file;
    this.json = json;
  }

  /**
   * Reads a YAML or JSON file (by its extension; JSON otherwise).
   *
   * @throws IllegalArgumentException naming the file and what is wrong (syntax with its line, an unknown key)
   */
  public static ConfigFile read(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new IllegalArgumentException("config file " + file + " cannot be read: " + e.getMessage(), e);
    }
    String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
    JsonElement tree;
    try {
      if (name.endsWith(".yaml") || name.endsWith(".yml")) {
        Object loaded = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
        tree = new Gson().toJsonTree(loaded == null ? Map.of() : loaded);
      } else {
        tree = JsonParser.parseString(text);
      }
    } catch (JsonParseException | org.yaml.snakeyaml.error.YAMLException e) {
      throw new IllegalArgumentException("config file " + file + " is not valid " + (name.endsWith(".json") ? "JSON"
          : "YAML") + ": " + e.getMessage().replace('\n', ' '), e);
    }
    if (!tree.isJsonObject()) {
      throw new IllegalArgumentException("config file " + file + " must hold a mapping of settings (key: value), got "
          + tree);
    }
    JsonObject json = tree.getAsJsonObject();
    for (String key : json.keySet()) {
      if (!KEYS.contains(key)) {
        throw new IllegalArgumentException("config file " + file + ": unknown setting '" + key + "'; the settings are "
            + new TreeSet<>(KEYS) + ", the learner's fields go under 'config'");
      }
    }
    if (json.has("config") && !json.get("config").isJsonObject()) {
      throw new IllegalArgumentException("config file " + file + ": 'config' must be a mapping of the learner's fields");
    }
    return new ConfigFile(file, json);
  }

  /** The file's path. */
  public Path file() {
    return file;
  }

  public boolean has(String key) {
    return json.has(key) && !json.get(key).isJsonNull();
  }

  /** A top-level setting as text, or null. */
  public String text(String key) {
    if (!has(key)) {
      return null;
    }
    JsonElement v = json.get(key);
    if (!v.isJsonPrimitive()) {
      throw new IllegalArgumentException("config file " + file + ": '" + key + "' must be a single value, got " + v);
    }
    return v.getAsString();
  }

  /** A top-level whole number, or null. */
  public Long whole(String key) {
    String v = text(key);
    if (v == null) {
      return null;
    }
    try {
      return new java.math.BigDecimal(v).longValueExact();
    } catch (ArithmeticException | NumberFormatException e) {
      throw new IllegalArgumentException("config file " + file + ": '" + key + "' must be a whole number, got " + v);
    }
  }

  /** A top-level list of text (a single value counts as a list of one); empty when absent. */
  public List<String> texts(String key) {
    List<String> out = new ArrayList<>();
    if (!has(key)) {
      return out;
    }
    JsonElement v = json.get(key);
    if (v.isJsonArray()) {
      v.getAsJsonArray().forEach(e -> out.add(e.getAsString()));
    } else {
      out.add(text(key));
    }
    return out;
  }

  /** This file without one of its learner fields (it then keeps the base config's value). */
  public ConfigFile withoutLearnerField(String field) {
    JsonObject copy = json.deepCopy();
    if (copy.has("config") && copy.get("config").isJsonObject()) {
      copy.getAsJsonObject("config").remove(field);
    }
    return new ConfigFile(file, copy);
  }

  /** The learner fields the file sets (its {@code config} mapping). */
  public JsonObject learnerFields() {
    return has("config") ? json.getAsJsonObject("config").deepCopy() : new JsonObject();
  }

  /**
   * {@code base} with the file's learner fields set: each must be a field of {@code base}'s class and
   * hold a value of its type; the config's own checks then apply (a value out of range names its field).
   *
   * @throws IllegalArgumentException naming the file and the field
   */
  public <T> T overlay(T base) {
    JsonObject fields = learnerFields();
    if (fields.size() == 0) {
      return base;
    }
    Gson gson = new GsonBuilder().serializeSpecialFloatingPointValues().create();
    JsonObject tree = gson.toJsonTree(base).getAsJsonObject();
    for (String key : fields.keySet()) {
      if (!tree.has(key)) {
        throw new IllegalArgumentException("config file " + file + ": 'config." + key + "' is not a field of "
            + base.getClass().getSimpleName() + "; its fields are " + new TreeSet<>(tree
            .keySet()));
      }
      JsonElement want = tree.get(key);
      JsonElement got = fields.get(key);
      boolean fits = want.isJsonNull() || want.isJsonArray() == got.isJsonArray() && want.isJsonPrimitive()
          == got.isJsonPrimitive() && (!want.isJsonPrimitive() || want.getAsJsonPrimitive().isNumber()
          == isNumber(got) && want.getAsJsonPrimitive().isBoolean() == got.getAsJsonPrimitive().isBoolean());
      if (fits && integral(base.getClass(), key) && !wholeNumbers(got)) {
        fits = false;
      }
      if (!fits) {
        throw new IllegalArgumentException("config file " + file + ": 'config." + key + "' must be like " + want
            + ", got " + got);
      }
      tree.add(key, got);
    }
    try {
      @SuppressWarnings("unchecked")
      T made = (T) gson.fromJson(tree, base.getClass());
      return made;
    } catch (JsonParseException | NumberFormatException e) {
      throw new IllegalArgumentException("config file " + file + ": its 'config' does not fit "
          + base.getClass().getSimpleName() + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      // the record's own range checks, thrown from its constructor (Gson wraps them)
      Throwable cause = e;
      while (cause.getCause() != null && !(cause instanceof IllegalArgumentException)) {
        cause = cause.getCause();
      }
      throw new IllegalArgumentException("config file " + file + ": " + cause.getMessage(), e);
    }
  }

  /** Whether a config record's field holds whole numbers (int, long, or an array of them). */
  private static boolean integral(Class<?> record, String field) {
    if (!record.isRecord()) {
      return false;
    }
    for (java.lang.reflect.RecordComponent c : record.getRecordComponents()) {
      if (c.getName().equals(field)) {
        Class<?> t = c.getType().isArray() ? c.getType().getComponentType() : c.getType();
        return t == int.class || t == long.class || t == Integer.class || t == Long.class;
      }
    }
    return false;
  }

  private static boolean wholeNumbers(JsonElement e) {
    if (e.isJsonArray()) {
      for (JsonElement x : e.getAsJsonArray()) {
        if (!wholeNumbers(x)) {
          return false;
        }
      }
      return true;
    }
    try {
      return e.isJsonPrimitive() && e.getAsBigDecimal().stripTrailingZeros().scale() <= 0;
    } catch (NumberFormatException | UnsupportedOperationException ex) {
      return false;
    }
  }

  private static boolean isNumber(JsonElement e) {
    if (!e.isJsonPrimitive()) {
      return false;
    }
    if (e.getAsJsonPrimitive().isNumber()) {
      return true;
    }
    String s = e.getAsString(); // NaN / Infinity as written by Gson
    return s.equals("NaN") || s.equals("Infinity") || s.equals("-Infinity");
  }
}
