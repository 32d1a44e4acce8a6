package org.rql4j.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * A command's options as picocli parses them: each command declares its options (name, value
 * label, type, description and, for whole numbers, their range) in one table, picocli checks a
 * command line against it (an unknown option, with suggestions; an option without its value; an
 * option given twice; a value of the wrong type: each names the option), {@link #parse} checks
 * every whole number given against its option's range, and picocli writes each command's
 * {@code --help}. So a command line with a value out of range is refused, naming the option, the
 * value and the range, before the command starts anything.
 */
final class Opts {

  /** The values a whole-number option takes, {@code min} to {@code max}, both included. */
  record Range(long min, long max) {

    Range {
      if (min > max) {
        throw new IllegalArgumentException("empty range " + min + ".." + max);
      }
    }

    /** {@code value} when it is in the range; else an IllegalArgumentException naming {@code what}, the value and the range. */
    long check(String what, long value) {
      if (value < min || value > max) {
        throw new IllegalArgumentException(what + " must be a whole number in " + this + ", got " + value);
      }
      return value;
    }

    @Override
    public String toString() {
      return min + ".." + max;
    }
  }

  /** Env steps (a run's, a checkpoint interval): at least 1, at most 10^12. */
  static final Range STEPS = new Range(1, 1_000_000_000_000L);
  /** Env worker processes of the env server. */
  static final Range WORKERS = new Range(0, 1024);
  /** Seeds: 0 .. 2^32 - 1, the seeds numpy and Gymnasium take everywhere. */
  static final Range SEEDS = new Range(0, 4_294_967_295L);
  /** Episode counts (evaluation episodes, MCTS episodes). */
  static final Range EPISODES = new Range(1, 100_000);
  /** Runs or rows at a time, each in its own process. */
  static final Range PARALLEL = new Range(1, 256);

  /**
   * One declared option: {@code label} null for a flag; {@code type} String, Long or Double;
   * repeatable or not; {@code range} the values of a whole number (type Long), or of each entry
   * of a comma-separated list of whole numbers (type String), else null.
   */
  record Opt(String name, String label, Class<?> type, String description, boolean repeatable, Range range) {}

  static Opt text(String name, String label, String description) {
    return new Opt(name, label, String.class, description, false, null);
  }

  /** A whole number in {@code range}; its help line ends with the range. */
  static Opt whole(String name, String label, Range range, String description) {
    return new Opt(name, label, Long.class, description + " [" + range + "]", false, range);
  }

  /** A comma-separated list of whole numbers, each in {@code range}; its help line ends with the range. */
  static Opt wholes(String name, String label, Range range, String description) {
    return new Opt(name, label, String.class, description + " [each " + range + "]", false, range);
  }

  static Opt flag(String name, String description) {
    return new Opt(name, null, Boolean.class, description, false, null);
  }

  static Opt many(String name, String label, String description) {
    return new Opt(name, label, String.class, description, true, null);
  }

  /** The declared options of each spec {@link #spec} made, by name: the ranges {@link #parse} checks. */
  private static final Map<CommandSpec, Map<String, Opt>> TABLES = java.util.Collections.synchronizedMap(
      new java.util.IdentityHashMap<>());

  /** A command's picocli spec: its name, its description (the help text's paragraphs) and its options, with {@code --help}. */
  static CommandSpec spec(String command, String synopsis, String description, List<Opt> opts) {
    CommandSpec spec = CommandSpec.create().name(command);
    List<String> paragraphs = new ArrayList<>();
    for (String p : description.split("\n\n")) {
      if (!paragraphs.isEmpty()) {
        paragraphs.add("");
      }
      paragraphs.add(p);
    }
    spec.usageMessage().description(paragraphs.toArray(String[]::new)).customSynopsis(synopsis).headerHeading("")
        .optionListHeading("%nOptions:%n");
    spec.mixinStandardHelpOptions(true);
    for (Opt o : opts) {
      OptionSpec.Builder b = OptionSpec.builder(o.name()).description(o.description());
      if (o.label() == null) {
        b.arity("0").type(boolean.class);
      } else if (o.repeatable()) {
        b.arity("1").paramLabel(o.label()).type(List.class).auxiliaryTypes(String.class);
      } else {
        b.arity("1").paramLabel(o.label()).type(o.type());
      }
      spec.addOption(b.build());
    }
    Map<String, Opt> table = new LinkedHashMap<>();
    opts.forEach(o -> table.put(o.name(), o));
    TABLES.put(spec, table);
    return spec;
  }

  /** Adds a required positional parameter ({@code label}) to {@code spec}, at the next index. */
  static void positional(CommandSpec spec, String label, String description) {
    spec.addPositional(CommandLine.Model.PositionalParamSpec.builder().index(Integer.toString(spec.positionalParameters()
        .size())).paramLabel(label).arity("1").type(String.class).description(description).build());
  }

  /** The value of positional parameter {@code index}, or null. */
  String positional(int index) {
    return result.matchedPositionalValue(index, null);
  }

  private final ParseResult result;
  private final Map<String, Opt> table;
  private final String command;

  private Opts(ParseResult result, Map<String, Opt> table, String command) {
    this.result = result;
    this.table = table;
    this.command = command;
  }

  /**
   * Parses {@code args} against {@code spec}; an IllegalArgumentException with picocli's message
   * (naming the option) for a command line that does not fit it, or naming the option, the value
   * and the range for a whole number out of its option's range.
   */
  static Opts parse(CommandSpec spec, String[] args) {
    CommandLine cl = new CommandLine(spec);
    try {
      Opts opts = new Opts(cl.parseArgs(args), TABLES.getOrDefault(spec, Map.of()), spec.name());
      opts.checkRanges();
      return opts;
    } catch (CommandLine.ParameterException e) {
      StringBuilder hint = new StringBuilder();
      if (e instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
        hint.append(" (did you mean ").append(String.join(" or ", u.getSuggestions())).append("?)");
      }
      throw new IllegalArgumentException(e.getMessage() + hint + "; see rql4j " + spec.name() + " --help", e);
    }
  }

  /** Whether the command line asked for the command's help ({@code -h}, {@code --help}). */
  boolean helpRequested() {
    return result.isUsageHelpRequested() || result.isVersionHelpRequested();
  }

  boolean has(String name) {
    return result.hasMatchedOption(name);
  }

  String text(String name, String fallback) {
    return has(name) ? result.matchedOptionValue(name, fallback) : fallback;
  }

  /** A whole-number option's value (checked against its range), else {@code fallback}. */
  long whole(String name, long fallback) {
    return has(name) ? checked(name, result.<Long>matchedOptionValue(name, fallback), name) : fallback;
  }

  /**
   * {@code value} checked against option {@code name}'s range, {@code what} naming where it came
   * from in the message (the option, or a config file's key); an IllegalArgumentException
   * naming it, the value, the range and the command's help otherwise.
   */
  long checked(String name, long value, String what) {
    Opt opt = table.get(name);
    if (opt == null || opt.range() == null) {
      return value;
    }
    try {
      return opt.range().check(what, value);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(e.getMessage() + "; see rql4j " + command + " --help");
    }
  }

  /** Every whole number given on the command line in its option's range. */
  private void checkRanges() {
    for (Opt opt : table.values()) {
      if (opt.range() == null || !has(opt.name())) {
        continue;
      }
      if (opt.type() == Long.class) {
        checked(opt.name(), result.<Long>matchedOptionValue(opt.name(), 0L), opt.name());
        continue;
      }
      String list = result.matchedOptionValue(opt.name(), "");
      for (String entry : list.split(",", -1)) {
        long value;
        try {
          value = Long.parseLong(entry.trim());
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(opt.name() + " takes comma-separated whole numbers in " + opt.range()
              + ", got '" + entry.trim() + "' in '" + list + "'; see rql4j " + command + " --help");
        }
        checked(opt.name(), value, opt.name() + " (in '" + list + "')");
      }
    }
  }

  boolean flag(String name) {
    return has(name);
  }

  List<String> all(String name) {
    return has(name) ? result.matchedOptionValue(name, List.of()) : new ArrayList<>();
  }
}
