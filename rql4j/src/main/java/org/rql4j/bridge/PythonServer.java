package org.rql4j.bridge;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the Python bridge ({@code python -m rql4j_bridge serve}, or {@code serve-py4j} for
 * {@link BridgeTransport#PY4J}) as a child process, waits until it prints its port, and stops it
 * on {@link #close()}. Every server gets a fresh random auth token per launch, passed in its
 * environment ({@code RQL4J_BRIDGE_TOKEN}), never on its command line; the clients this class
 * connects send it with every call (gRPC metadata, Py4J's auth token), and they refuse a server of
 * another contract revision ({@link #PROTOCOL_REVISION}). Python runs with {@code -P}: the working
 * directory is not at the head of its module path (with {@code --import} / {@code --addon} the
 * bridge appends it, so that those modules are found but never shadow an installed one). The child also exits by itself when this
 * JVM dies (it watches its stdin for EOF), and a shutdown hook stops every live server, so no
 * orphan is left behind even when a test fails or the JVM is killed.
 */
public final class PythonServer implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(PythonServer.class);
  private static final String PORT_LINE = "RQL4J_BRIDGE_PORT=";
  private static final int KEPT_LINES = 60;
  private static final Set<PythonServer> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(
        () -> List.copyOf(LIVE).forEach(PythonServer::close), "rql4j-bridge-shutdown"));
  }

  private final Process process;
  private final String host;
  private final int port;
  private final List<String> command;
  private final BridgeTransport transport;
  private final String authToken;
  private final Deque<String> output = new ArrayDeque<>();
  private volatile boolean closing;

  private PythonServer(Process process, String host, int port, List<String> command, BridgeTransport transport,
      String authToken) {
    this.process = process;
    this.host = host;
    this.port = port;
    this.command = command;
    this.transport = transport;
    this.authToken = authToken;
  }

  /** Environment variable that passes the per-launch auth token to {@code rql4j-bridge serve} / {@code serve-py4j}. */
  public static final String TOKEN_ENV = "RQL4J_BRIDGE_TOKEN";

  /**
   * The contract revision this client speaks ({@code ServerInfoResponse.protocol_revision}); a
   * server of another one is refused with a message naming both.
   */
  public static final int PROTOCOL_REVISION = 3;

  /** Starts a server with defaults (venv Python, loopback, any free port). */
  public static PythonServer start() {
    return builder().start();
  }

  /** Settings for starting a server. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The Python interpreter to use: system property {@code rql4j.python}, else environment variable
   * {@code RQL4J_PYTHON}, else {@code .venv/bin/python} in the working directory or a parent of
   * it, else {@code python3} from the PATH.
   */
  public static Path defaultPython() {
    String prop = System.getProperty("rql4j.python");
    if (prop != null && !prop.isBlank()) {
      return Path.of(prop);
    }
    String env = System.getenv("RQL4J_PYTHON");
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path venv = dir.resolve(".venv/bin/python");
      if (Files.isExecutable(venv)) {
        return venv;
      }
    }
    return Path.of("python3");
  }

  /** Host the server listens on. */
  public String host() {
    return host;
  }

  /** Port the server bound. */
  public int port() {
    return port;
  }

  /** Process id of the server. */
  public long pid() {
    return process.pid();
  }

  /** Whether the server process is still running. */
  public boolean isAlive() {
    return process.isAlive();
  }

  /** The transport this server speaks. */
  public BridgeTransport transport() {
    return transport;
  }

  /**
   * A new gRPC client connected to this server; its errors carry this server's state.
   *
   * @throws IllegalStateException if this is a Py4J server (use {@link #client()} or {@link #connectPy4j()})
   */
  public GrpcEnvClient connect() {
    if (transport != BridgeTransport.GRPC) {
      throw new IllegalStateException("this Python server speaks " + transport + ", not gRPC: use client() or "
          + "connectPy4j(), or start it with optTransport(BridgeTransport.GRPC)");
    }
    return checked(GrpcEnvClient.connect(host, port, authToken, this::diagnostics));
  }

  /**
   * A new Py4J client connected to this server with its auth token; its errors carry this server's state.
   *
   * @throws IllegalStateException if this is a gRPC server (use {@link #client()} or {@link #connect()})
   */
  public Py4jEnvClient connectPy4j() {
    if (transport != BridgeTransport.PY4J) {
      throw new IllegalStateException("this Python server speaks " + transport + ", not Py4J: use client() or "
          + "connect(), or start it with optTransport(BridgeTransport.PY4J)");
    }
    return checked(Py4jEnvClient.connect(host, port, authToken, Py4jEnvClient.DEFAULT_TIMEOUT, this::diagnostics));
  }

  /** {@code client}, after checking that the server speaks this client's contract revision (closed if not). */
  private <C extends EnvClient> C checked(C client) {
    try {
      checkRevision(client.serverInfo().getProtocolRevision(), command.get(0));
      return client;
    } catch (RuntimeException e) {
      client.close();
      throw e;
    }
  }

  /**
   * Refuses a server of another contract revision than {@link #PROTOCOL_REVISION}, naming both and
   * how to install the matching bridge into {@code python} (null: the server's, unknown here).
   */
  static void checkRevision(int served, String python) {
    if (served != PROTOCOL_REVISION) {
      throw new BridgeException(io.grpc.Status.Code.FAILED_PRECONDITION, "the Python env server speaks rql4j.v1 "
          + "revision " + served + (served == 0 ? " (a bridge from before revisions were numbered)" : "")
          + ", this rql4j speaks revision " + PROTOCOL_REVISION + ": install the python-bridge of this rql4j into "
          + (python == null ? "the server's Python (`make setup` in the checkout, or `python -m pip install -e "
              + "python-bridge` with that Python)" : python + " (`make setup` in the checkout, or `" + python
              + " -m pip install -e python-bridge`)"), null);
    }
  }

  /** A new client of this server's transport (gRPC or Py4J). */
  public EnvClient client() {
    return transport == BridgeTransport.PY4J ? connectPy4j() : connect();
  }

  /** The server's state and its last output lines, for error messages. */
  public String diagnostics() {
    StringBuilder sb = new StringBuilder();
    if (process.isAlive()) {
      sb.append("env server pid ").append(pid()).append(" is running on ").append(host).append(':')
          .append(port);
    } else {
      sb.append("env server pid ").append(pid()).append(" has exited with code ")
          .append(process.exitValue());
    }
    String tail = outputTail();
    if (!tail.isEmpty()) {
      sb.append("; its last output:\n").append(tail);
    }
    return sb.toString();
  }

  /** The last lines the server printed (stdout and stderr). */
  public String outputTail() {
    synchronized (output) {
      return String.join("\n", output);
    }
  }

  private void keep(String line) {
    synchronized (output) {
      output.addLast(line);
      while (output.size() > KEPT_LINES) {
        output.removeFirst();
      }
    }
  }

  /** Stops the server: closes its stdin, then SIGTERM, then SIGKILL (idempotent). */
  @Override
  public void close() {
    if (closing) {
      return;
    }
    closing = true;
    LIVE.remove(this);
    try {
      process.getOutputStream().close();
      if (!process.waitFor(3, TimeUnit.SECONDS)) {
        process.destroy();
        if (!process.waitFor(3, TimeUnit.SECONDS)) {
          process.descendants().forEach(ProcessHandle::destroyForcibly);
          process.destroyForcibly();
          process.waitFor(3, TimeUnit.SECONDS);
        }
      }
    } catch (IOException e) {
      process.destroyForcibly();
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  /** Settings for {@link PythonServer} (DJL style: {@code optX}). */
  public static final class Builder {
    private Path python;
    private String host = "127.0.0.1";
    private final List<String> imports = new ArrayList<>();
    private final List<String> addons = new ArrayList<>();
    private final List<String> serveArgs = new ArrayList<>();
    private int workers;
    private String ray;
    private Duration stepSocketSpin;
    private Duration startupTimeout = Duration.ofSeconds(60);
    private final Map<String, String> environment = new LinkedHashMap<>();
    private Path workingDir;
    private BridgeTransport transport = BridgeTransport.GRPC;

    private Builder() {}

    /**
     * The transport to serve: gRPC ({@code rql4j-bridge serve}, the default) or Py4J
     * ({@code rql4j-bridge serve-py4j}, with a random auth token per launch).
     */
    public Builder optTransport(BridgeTransport transport) {
      this.transport = java.util.Objects.requireNonNull(transport, "transport");
      return this;
    }

    /** Python interpreter with {@code rql4j_bridge} installed (default {@link #defaultPython()}). */
    public Builder optPython(Path python) {
      this.python = python;
      return this;
    }

    /** The Python interpreter the server will run on: {@link #optPython}'s, else {@link #defaultPython()}. */
    public Path python() {
      return python != null ? python : defaultPython();
    }

    /** Interface to bind; loopback by default. */
    public Builder optHost(String host) {
      this.host = host;
      return this;
    }

    /** Modules the server imports before serving (to register extra Gymnasium ids). */
    public Builder optImport(String module) {
      if (!imports.contains(module)) { // a module named twice is imported once
        this.imports.add(module);
      }
      return this;
    }

    /**
     * An add-on reward ({@code "MODULE:FUNCTION"}) that {@link EnvSpec.Builder#optAddonReward} may
     * name: the server imports MODULE at start (from its working directory or PYTHONPATH) and exits
     * with a message naming it if it does not import or has no such function.
     */
    public Builder optAddon(String moduleFunction) {
      if (!addons.contains(java.util.Objects.requireNonNull(moduleFunction, "moduleFunction"))) {
        this.addons.add(moduleFunction);
      }
      return this;
    }

    /**
     * How long the server's step sockets poll for the client's next step before their thread sleeps
     * ({@code rql4j-bridge serve --step-socket-spin-us}); by default 1 ms where the server may use 2 or
     * more cores, else zero. Polling saves waking the thread (about 100 µs a step on small envs) and
     * keeps a core busy meanwhile; {@link Duration#ZERO} never polls.
     */
    public Builder optStepSocketSpin(Duration spin) {
      if (spin.isNegative()) {
        throw new IllegalArgumentException("the step socket's spin must be >= 0, got " + spin);
      }
      this.stepSocketSpin = spin;
      return this;
    }

    /**
     * Steps each env's copies in {@code min(workers, copies)} worker processes of the server, at the same
     * time ({@code rql4j-bridge serve --workers N}); 0, the default, keeps them in the server's own process.
     * Worth it for slow simulators with several copies (docs/bridge.md, "Env worker processes"): the
     * replies are the same, bit for bit; a worker that dies fails the step with an error naming its copies.
     */
    public Builder optWorkers(int workers) {
      if (workers < 0) {
        throw new IllegalArgumentException("workers must be >= 0 (0: the copies stay in the server's process), got "
            + workers);
      }
      this.workers = workers;
      return this;
    }

    /**
     * Makes the workers Ray actors on a Ray cluster ({@code rql4j-bridge serve --ray ADDRESS}, the bridge's
     * {@code ray} extra): {@code "auto"} (the cluster {@code ray start} joined this host to), the head node's
     * {@code HOST:PORT}, or {@code "local"} (a one-node Ray the server starts). One actor per copy unless
     * {@link #optWorkers} says how many. The cluster must use Ray's token authentication: give the server
     * {@code RAY_AUTH_MODE=token} and the cluster's {@code RAY_AUTH_TOKEN} with {@link #optEnv}
     * (or in this process's environment), see docs/cluster.md; replies are the same, bit for bit.
     */
    public Builder optRay(String address) {
      if (address == null || address.isBlank()) {
        throw new IllegalArgumentException("the Ray address must be auto, local or HOST:PORT, got '" + address + "'");
      }
      this.ray = address;
      return this;
    }

    /** Extra arguments for {@code rql4j-bridge serve}, e.g. {@code "--server", "threads"}. */
    public Builder optServeArgs(String... args) {
      this.serveArgs.addAll(List.of(args));
      return this;
    }

    /** How long to wait for the server to print its port. */
    public Builder optStartupTimeout(Duration startupTimeout) {
      this.startupTimeout = startupTimeout;
      return this;
    }

    /** An extra environment variable for the server process. */
    public Builder optEnv(String name, String value) {
      this.environment.put(name, value);
      return this;
    }

    /** Working directory of the server process. */
    public Builder optWorkingDir(Path workingDir) {
      this.workingDir = workingDir;
      return this;
    }

    /**
     * Starts the server and waits for its port.
     *
     * @throws BridgeException if Python cannot be started, the bridge is not installed, or the
     *     server does not come up in time (the message holds its output and what to do)
     */
    public PythonServer start() {
      Path py = python != null ? python : defaultPython();
      // -P: the working directory is not on the module path (a .py file there cannot shadow a module the
      // server imports); the bridge adds it only for the modules named by --import / --addon
      List<String> cmd = new ArrayList<>(List.of(py.toString(), "-P", "-u", "-m", "rql4j_bridge",
          transport == BridgeTransport.PY4J ? "serve-py4j" : "serve",
          "--host", host, "--port", "0", "--exit-on-stdin-eof", "--own-process-group"));
      for (String m : imports) {
        cmd.add("--import");
        cmd.add(m);
      }
      for (String a : addons) {
        cmd.add("--addon");
        cmd.add(a);
      }
      if (stepSocketSpin != null) {
        cmd.addAll(List.of("--step-socket-spin-us", Long.toString(stepSocketSpin.toNanos() / 1000)));
      }
      if (workers > 0) {
        cmd.addAll(List.of("--workers", Integer.toString(workers)));
      }
      if (ray != null) {
        cmd.addAll(List.of("--ray", ray));
      }
      cmd.addAll(serveArgs);
      ProcessBuilder pb = new ProcessBuilder(cmd);
      pb.environment().putAll(environment);
      pb.environment().put("PYTHONUNBUFFERED", "1");
      pb.environment().put("PYTHONSAFEPATH", "1");
      byte[] secret = new byte[24];
      new java.security.SecureRandom().nextBytes(secret);
      String token = java.util.HexFormat.of().formatHex(secret);
      pb.environment().put(TOKEN_ENV, token);
      if (workingDir != null) {
        pb.directory(workingDir.toFile());
      }
      Process process;
      try {
        process = pb.start();
      } catch (IOException e) {
        throw new BridgeException(io.grpc.Status.Code.UNAVAILABLE,
            "could not start the Python env server with '" + py + "': " + e.getMessage()
                + ". Run the setup command from the README (it creates .venv), or point "
                + "-Drql4j.python / RQL4J_PYTHON at a Python with python-bridge installed.", e);
      }
      CompletableFuture<Integer> portFuture = new CompletableFuture<>();
      PythonServer[] self = new PythonServer[1];
      Deque<String> early = new ArrayDeque<>();
      // Until the server object exists, lines go to `early`; afterwards to the server's tail.
      Object lock = new Object();
      java.util.function.Consumer<String> sink = line -> {
        synchronized (lock) {
          if (self[0] != null) {
            self[0].keep(line);
          } else {
            early.addLast(line);
            if (early.size() > KEPT_LINES) {
              early.removeFirst();
            }
          }
        }
      };
      Thread outPump = pump(process.getInputStream(), "stdout", line -> {
        if (!portFuture.isDone() && line.startsWith(PORT_LINE)) {
          try {
            portFuture.complete(Integer.parseInt(line.substring(PORT_LINE.length()).trim()));
          } catch (NumberFormatException e) {
            portFuture.completeExceptionally(e);
          }
        } else {
          sink.accept(line);
        }
      }, () -> portFuture.completeExceptionally(new IOException("server stdout closed")));
      Thread errPump = pump(process.getErrorStream(), "stderr", line -> {
        sink.accept(line);
        LOG.debug("[bridge] {}", line);
      }, () -> { });

      int port;
      try {
        port = portFuture.get(startupTimeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
        throw new BridgeException(io.grpc.Status.Code.CANCELLED, "interrupted while starting " + cmd, e);
      } catch (ExecutionException | TimeoutException e) {
        boolean timedOut = e instanceof TimeoutException;
        try {
          if (!timedOut) {
            // its stdout closed: it is exiting and may still be writing its error to stderr; let it finish
            process.waitFor(5, TimeUnit.SECONDS);
          }
          process.destroyForcibly();
          process.waitFor(3, TimeUnit.SECONDS);
          // what the process printed (its error) is read to the end: its streams close when it exits
          outPump.join(3000);
          errPump.join(3000);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
        }
        String tail;
        synchronized (lock) {
          tail = String.join("\n", early);
        }
        String hint = tail.contains("No module named") && tail.contains("rql4j_bridge")
            ? " The Python at '" + py + "' does not have python-bridge installed: run the setup "
                + "command from the README, or `pip install -e python-bridge` into that Python."
            : "";
        throw new BridgeException(io.grpc.Status.Code.UNAVAILABLE,
            "the Python env server (" + String.join(" ", cmd) + ") "
                + (timedOut ? "did not report its port within " + startupTimeout.toSeconds() + " s"
                    : "exited before reporting its port")
                + "." + hint + (tail.isEmpty() ? "" : " Its output:\n" + tail), e);
      }
      PythonServer server = new PythonServer(process, host, port, List.copyOf(cmd), transport, token);
      synchronized (lock) {
        self[0] = server;
        early.forEach(server::keep);
      }
      LIVE.add(server);
      LOG.debug("env server pid {} ({}) listening on {}:{}", process.pid(), transport, host, port);
      return server;
    }

    private static Thread pump(InputStream in, String name, java.util.function.Consumer<String> onLine,
        Runnable onEnd) {
      Thread t = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
          String line;
          while ((line = r.readLine()) != null) {
            onLine.accept(line);
          }
        } catch (IOException ignored) {
          // the process is gone
        } finally {
          onEnd.run();
        }
      }, "rql4j-bridge-" + name);
      t.setDaemon(true);
      t.start();
      return t;
    }
  }

  @Override
  public String toString() {
    return "PythonServer[pid " + pid() + " " + host + ":" + port + " " + String.join(" ", command) + "]";
  }
}
