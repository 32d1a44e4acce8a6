package org.rql4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every relative link in the user docs resolves: README.md, {@code docs/**.md},
 * {@code examples/**.md} and python-bridge/README.md. A link ({@code [text](path)},
 * {@code ![alt](path)} or a reference definition {@code [label]: path}) is resolved against the
 * folder of its markdown file and must name a file or folder inside the repository; links with a
 * scheme ({@code https:}, {@code mailto:}, ...) and pure {@code #anchors} are not checked, a
 * {@code #anchor} suffix is dropped, and links inside fenced code blocks or inline code are not
 * links.
 */
class DocsLinksTest {

  private static final Path ROOT = Path.of(System.getProperty("rql4j.project.dir", ".")).toAbsolutePath().normalize();

  /** A fence opening or closing a code block: its indentation is free (fences sit in list items). */
  private static final Pattern FENCE = Pattern.compile("^\\s*(`{3,}|~{3,})");
  /** Inline code spans, blanked before links are looked for. */
  private static final Pattern CODE_SPAN = Pattern.compile("(`+)(?!`).*?(?<!`)\\1(?!`)");
  /** The target of an inline link or image: {@code ](target)} or {@code ](target "title")}. */
  private static final Pattern INLINE = Pattern.compile("\\]\\(\\s*(<[^>]*>|[^)\\s]+)(?:\\s+(?:\"[^\"]*\"|'[^']*'))?\\s*\\)");
  /** A reference definition {@code [label]: target}; {@code [^1]: ...} is a footnote, not a link. */
  private static final Pattern REFERENCE = Pattern.compile("^ {0,3}\\[(?!\\^)[^\\]]+\\]:\\s*(<[^>]*>|\\S+)");
  /** A URI scheme ({@code https:}, {@code mailto:}): such links leave the repository. */
  private static final Pattern SCHEME = Pattern.compile("^[A-Za-z][A-Za-z0-9+.-]*:");

  /** One link as written: the file, its line (1-based) and its target. */
  record Link(Path file, int line, String target) {}

  @Test
  void everyRelativeLinkInTheDocsResolves() throws IOException {
    List<Path> files = markdownFiles(ROOT);
    assertTrue(files.contains(ROOT.resolve("README.md")), "no README.md under " + ROOT);
    List<String> broken = new ArrayList<>();
    for (Path file : files) {
      for (Link link : links(file)) {
        String why = problem(link);
        if (why != null) {
          broken.add(ROOT.relativize(file) + ":" + link.line() + ": (" + link.target() + ") " + why);
        }
      }
    }
    assertTrue(broken.isEmpty(), broken.size() + " broken link(s) in the docs:\n  " + String.join("\n  ", broken));
  }

  @Test
  void theCheckFindsBrokenLinksAndOnlyThose(@TempDir Path dir) throws IOException {
    Files.createDirectories(dir.resolve("docs/img"));
    Files.writeString(dir.resolve("docs/img/a.png"), "");
    Files.writeString(dir.resolve("docs/there.md"), "");
    Path doc = dir.resolve("docs/page.md");
    Files.writeString(doc, String.join("\n",
        "See [there](there.md#part), ![a](img/a.png \"A\"), [the folder](img/) and [back](../docs/there.md).",
        "[web](https://example.org/x.md), [mail](mailto:a@b.c), [here](#top) and `[code](nowhere.md)`.",
        "[missing](missing.md#part) and [gone][ref].",
        "```",
        "[in a fence](nowhere.md)",
        "```",
        "[ref]: img/gone.png",
        "[^1]: a footnote, not a link",
        "[up](../../outside.md)"));
    List<String> targets = links(doc).stream().map(Link::target).toList();
    assertEquals(List.of("there.md#part", "img/a.png", "img/", "../docs/there.md", "https://example.org/x.md",
        "mailto:a@b.c", "#top", "missing.md#part", "img/gone.png", "../../outside.md"), targets);
    List<String> broken = new ArrayList<>();
    for (Link link : links(doc)) {
      if (problem(link, dir) != null) {
        broken.add(link.line() + " " + link.target());
      }
    }
    assertEquals(List.of("3 missing.md#part", "7 img/gone.png", "9 ../../outside.md"), broken);
    assertFalse(markdownFiles(dir).isEmpty());
  }

  /** README.md, docs/**.md, examples/**.md and python-bridge/README.md under {@code root}. */
  static List<Path> markdownFiles(Path root) throws IOException {
    List<Path> files = new ArrayList<>();
    for (String name : List.of("README.md", "python-bridge/README.md")) {
      if (Files.isRegularFile(root.resolve(name))) {
        files.add(root.resolve(name));
      }
    }
    for (String tree : List.of("docs", "examples")) {
      Path top = root.resolve(tree);
      if (!Files.isDirectory(top)) {
        continue;
      }
      try (Stream<Path> walk = Files.walk(top)) {
        walk.filter(p -> p.getFileName().toString().endsWith(".md") && Files.isRegularFile(p))
            .filter(p -> !built(top.relativize(p)))
            .sorted()
            .forEach(files::add);
      }
    }
    return files;
  }

  /** A file under a build output, a venv or a hidden folder: not part of the docs. */
  private static boolean built(Path relative) {
    for (Path part : relative) {
      String name = part.toString();
      if (name.startsWith(".") || name.equals("target") || name.equals("node_modules")) {
        return true;
      }
    }
    return false;
  }

  /** The links of one markdown file, outside fenced code blocks and inline code. */
  static List<Link> links(Path file) throws IOException {
    List<Link> links = new ArrayList<>();
    String fence = null; // the open fence's marker, null outside a code block
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      Matcher f = FENCE.matcher(line);
      if (fence == null && f.find()) {
        fence = f.group(1);
        continue;
      }
      if (fence != null) {
        if (f.find() && f.group(1).charAt(0) == fence.charAt(0) && f.group(1).length() >= fence.length()
            && line.substring(f.end()).isBlank()) {
          fence = null;
        }
        continue;
      }
      String text = CODE_SPAN.matcher(line).replaceAll("");
      Matcher m = INLINE.matcher(text);
      while (m.find()) {
        links.add(new Link(file, i + 1, unbracket(m.group(1))));
      }
      Matcher r = REFERENCE.matcher(text);
      if (r.find()) {
        links.add(new Link(file, i + 1, unbracket(r.group(1))));
      }
    }
    return links;
  }

  private static String unbracket(String target) {
    return target.startsWith("<") && target.endsWith(">") ? target.substring(1, target.length() - 1) : target;
  }

  private static String problem(Link link) {
    return problem(link, ROOT);
  }

  /**
   * Why {@code link} is broken, or null when it resolves (or is not checked: a URL, an anchor).
   * A path starting with {@code /} is taken from the repository root, as GitHub does.
   */
  static String problem(Link link, Path root) {
    String target = link.target();
    if (target.isEmpty() || target.startsWith("#") || SCHEME.matcher(target).find()) {
      return null;
    }
    int cut = indexOfAny(target, '#', '?');
    // %20 and friends are decoded; a '+' stays a plus (URLDecoder would read it as a space)
    String path = URLDecoder.decode((cut < 0 ? target : target.substring(0, cut)).replace("+", "%2B"),
        StandardCharsets.UTF_8);
    if (path.isEmpty()) {
      return null;
    }
    Path base = path.startsWith("/") ? root : link.file().getParent();
    Path resolved = base.resolve(path.startsWith("/") ? path.substring(1) : path).normalize();
    if (!resolved.startsWith(root.normalize())) {
      return "points outside the repository";
    }
    return Files.exists(resolved) ? null : "no such file or folder: " + root.relativize(resolved);
  }

  private static int indexOfAny(String s, char a, char b) {
    int i = s.indexOf(a);
    int j = s.indexOf(b);
    return i < 0 ? j : j < 0 ? i : Math.min(i, j);
  }
}
