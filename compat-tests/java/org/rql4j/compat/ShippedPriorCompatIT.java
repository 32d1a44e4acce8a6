package org.rql4j.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.PythonServer;
import org.rql4j.env.Env;
import org.rql4j.policy.PriorActor;
import org.rql4j.prior.TorchScriptPrior;
import org.rql4j.train.Evaluator;

/**
 * End to end: a shipped prior run from Java (TorchScriptPrior on DJL, acting through the bridge on
 * the task env) gives the same per-episode basic and add-on returns as Python's evaluation of the
 * same package on the same seeds ({@code rql4j-bridge train evaluate}).
 */
class ShippedPriorCompatIT {

  private static PythonServer server;
  private static GrpcEnvClient client;
  private static Path root;

  @BeforeAll
  static void start() {
    root = Path.of(System.getProperty("rql4j.project.dir", "."));
    server = PythonServer.start();
    client = server.connect();
  }

  @AfterAll
  static void stop() {
    client.close();
    server.close();
  }

  @ParameterizedTest
  @ValueSource(strings = {"cartpole-center-softdqn", "cartpole-center-bc"})
  void javaEvaluationEqualsPythonEvaluation(String name, @TempDir Path tmp) throws Exception {
    Path pkg = root.resolve("examples/priors").resolve(name);
    Path json = tmp.resolve("eval.json");
    Process p = new ProcessBuilder(PythonServer.defaultPython().toString(), "-m", "rql4j_bridge.train", "evaluate",
        pkg.toString(), "--task", "cartpole-center", "--json", json.toString())
        .redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0, "python evaluate failed:\n" + log);
    JsonObject py = JsonParser.parseString(Files.readString(json)).getAsJsonObject();
    JsonObject perEpisode = py.getAsJsonObject("per_episode");

    Evaluator.Summary java;
    try (TorchScriptPrior prior = TorchScriptPrior.load(pkg);
        PriorActor actor = new PriorActor(prior);
        Env env = client.makeSingle("rql4j/cartpole-center-total-v0", null)) {
      prior.spec().checkCompatible("rql4j/cartpole-center-total-v0", env.observationSpace(), env.actionSpace());
      java = Evaluator.evaluate(env, actor, Evaluator.defaultSeeds(20));
    }
    JsonArray basic = perEpisode.getAsJsonArray("basic_return");
    JsonArray addon = perEpisode.getAsJsonArray("addon_return");
    JsonArray length = perEpisode.getAsJsonArray("length");
    assertEquals(20, basic.size());
    for (int i = 0; i < 20; i++) {
      Evaluator.Episode e = java.episodes().get(i);
      assertEquals(length.get(i).getAsInt(), e.length(), name + " episode " + i + " length");
      assertEquals(basic.get(i).getAsDouble(), e.basicReturn(), 1e-6, name + " episode " + i + " basic return");
      assertEquals(addon.get(i).getAsDouble(), e.addonReturn(), 1e-6, name + " episode " + i + " add-on return");
    }
    System.out.println(java.markdownRow(name + " (Java)"));
  }
}
