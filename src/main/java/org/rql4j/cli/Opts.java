package org.rql4j.cli;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * A command's options as picocli parses them: each command declares its options (name, value
 * label, type, description) in one table, picocli checks a command line against it (an unknown
 * option, with suggestions; an option without its value; an option given twice; a value of the
 * wrong type: each names the option) and writes each command's {@code --help}.
 */
final class Opts {

  /** One declared option: {@code label} null for a flag; {@code type} String, Long or Double; repeatable or not. */
  record Opt(String name, String label, Class<?> type, String description, boolean repeatable) {}

  static Opt text(String name, String label, String description) {
    return new Opt(name, label, String.class, description, false);
  }

  static Opt whole(String name, String label, String description) {
    return new Opt(name, label, Long.class, description, false);
  }

  static Opt flag(String name, String description) {
    return new Opt(name, null, Boolean.class, description, false);
  }

  static Opt many(String name, String label, String description) {
    return new Opt(name, label, String.class, description, true);
  }

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
    return spec;
  }

  private final ParseResult result;

  private Opts(ParseResult result) {
    this.result = result;
  }

  /**
   * Parses {@code args} against {@code spec}; an IllegalArgumentException with picocli's message
   * (naming the option) for a command line that does not fit it.
   */
  static Opts parse(CommandSpec spec, String[] args) {
    CommandLine cl = new CommandLine(spec);
    try {
      return new Opts(cl.parseArgs(args));
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

  long whole(String name, long fallback) {
    return has(name) ? result.<Long>matchedOptionValue(name, fallback) : fallback;
  }

  boolean flag(String name) {
    return has(name);
  }

  List<String> all(String name) {
    return has(name) ? result.matchedOptionValue(name, List.of()) : new ArrayList<>();
  }
}
