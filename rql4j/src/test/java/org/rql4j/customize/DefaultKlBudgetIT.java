package org.rql4j.customize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rql4j.bridge.GrpcEnvClient;
import org.rql4j.bridge.PythonServer;
import org.rql4j.learner.ResidualSoftQConfig;
import org.rql4j.prior.TorchScriptPrior;

/**
 * The default KL budget against the real env server and the shipped CartPole priors (runs of 1100 env
 * steps: one training burst): the behaviour-cloned prior, sure of its action (a median gap of 12.3 nats
 * between its two actions on its own states), is flattened to temperature 4.1, which the run says, records
 * in config.json and its checkpoint, and which its saved policy carries as {@code w = alphaHat / 4.1}; the
 * soft-DQN prior (1.9 nats) is used as it is; a resume recomputes the same temperature.
 */
class DefaultKlBudgetIT {

  static final ResidualSoftQConfig CFG = ResidualSoftQConfig.cartpole().withTotalSteps(1100);

  @Test
  void aSurePriorIsFlattenedAndTheSavedPolicyCarriesIt(@TempDir Path tmp) throws Exception {
    Path root = Path.of(System.getProperty("rql4j.project.dir", "."));
    try (PythonServer server = PythonServer.start(); GrpcEnvClient client = server.connect();
        TorchScriptPrior bc = TorchScriptPrior.load(root.resolve("examples/priors/cartpole-center-bc"));
        TorchScriptPrior soft = TorchScriptPrior.load(root.resolve("examples/priors/cartpole-center-softdqn"))) {
      Path out = tmp.resolve("bc");
      List<String> log = new ArrayList<>();
      try (Customization.Result r = Customization.builder(Task.builtIn("cartpole-center"), bc).optEnvClient(client)
          .optConfig(CFG).optDefaultKlBudget().optEvalEpisodes(1).optOutDir(out).optExport(false).optLog(log::add)
          .build().run()) {
        assertEquals(1100, r.training().step());
      }
      assertTrue(log.stream().anyMatch(l -> l.contains("flattened to temperature 4.1:") && l.contains("12.3 nats")),
          String.join("\n", log));
      JsonObject config = JsonParser.parseString(Files.readString(out.resolve("config.json"))).getAsJsonObject();
      assertEquals(0.1, config.get("kl_budget").getAsDouble(), 0);
      assertEquals(4.1, config.get("kl_budget_prior_temperature").getAsDouble(), 0);
      JsonObject policy = JsonParser.parseString(Files.readString(out.resolve("policy/policy.json"))).getAsJsonObject();
      JsonObject saved = policy.getAsJsonObject("config");
      assertEquals(saved.get("alphaHat").getAsDouble() / 4.1, saved.get("priorWeight").getAsDouble(), 1e-6,
          "the saved policy composes the prior itself with w = alphaHat / T");

      // the same run again resumes nothing and reads the finished result back: the temperature is recomputed equal
      log.clear();
      try (Customization.Result again = Customization.builder(Task.builtIn("cartpole-center"), bc).optEnvClient(client)
          .optConfig(CFG).optDefaultKlBudget().optEvalEpisodes(1).optOutDir(out).optExport(false).optResume(true)
          .optLog(log::add).build().run()) {
        assertEquals(1100, again.training().step());
      }

      Path plain = tmp.resolve("soft");
      log.clear();
      try (Customization.Result r = Customization.builder(Task.builtIn("cartpole-center"), soft).optEnvClient(client)
          .optConfig(CFG).optDefaultKlBudget().optEvalEpisodes(1).optOutDir(plain).optExport(false).optLog(log::add)
          .build().run()) {
        assertEquals(1100, r.training().step());
      }
      assertTrue(log.stream().anyMatch(l -> l.contains("measured against the prior itself")), String.join("\n", log));
      config = JsonParser.parseString(Files.readString(plain.resolve("config.json"))).getAsJsonObject();
      assertTrue(!config.has("kl_budget_prior_temperature"), config.toString());
      assertTrue(!config.has("kl_budget_greedy_share"), config.toString());

      // a greedy share: said, recorded, reported; the run folder refuses to go on under another share
      Path shared = tmp.resolve("share");
      log.clear();
      try (Customization.Result r = Customization.builder(Task.builtIn("cartpole-center"), soft).optEnvClient(client)
          .optConfig(CFG).optDefaultKlBudget().optGreedyShare(0.05).optEvalEpisodes(1).optOutDir(shared)
          .optExport(false).optLog(log::add).build().run()) {
        double moved = ((org.rql4j.train.OffPolicyTraining.Progress) r.training()).greedyMoved();
        assertTrue(moved >= 0 && moved <= 1, "the share of states whose most likely action moved: " + moved);
      }
      assertTrue(log.stream().anyMatch(l -> l.contains("greedy share: at most 0.05")), String.join("\n", log));
      config = JsonParser.parseString(Files.readString(shared.resolve("config.json"))).getAsJsonObject();
      assertEquals(0.05, config.get("kl_budget_greedy_share").getAsDouble(), 0);
      IllegalArgumentException other = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> Customization.builder(Task.builtIn("cartpole-center"), soft).optEnvClient(client).optConfig(CFG)
              .optDefaultKlBudget().optGreedyShare(0.1).optEvalEpisodes(1).optOutDir(shared).optExport(false)
              .optResume(true).build().run().close());
      assertTrue(other.getMessage().contains("kl_budget_greedy_share 0.05 -> 0.1"), other.getMessage());
      IllegalArgumentException none = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> Customization.builder(Task.builtIn("cartpole-center"), soft).optEnvClient(client).optConfig(CFG)
              .optGreedyShare(0.1).optEvalEpisodes(1).optOutDir(tmp.resolve("nobudget")).optExport(false).build()
              .run().close());
      assertTrue(none.getMessage().contains("has none"), none.getMessage());
      IllegalArgumentException ppo = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> Customization.builder(Task.builtIn("cartpole-center"), soft).optEnvClient(client)
              .optAlgorithm(Customization.Algorithm.PPO).optKlBudget(org.rql4j.learner.KlBudget.of(0.1))
              .optGreedyShare(0.1).optEvalEpisodes(1).optOutDir(tmp.resolve("ppo")).optExport(false).build().run()
              .close());
      assertTrue(ppo.getMessage().contains("residual PPO"), ppo.getMessage());
    }
  }
}
