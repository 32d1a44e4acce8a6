package org.rql4j.learner;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import org.rql4j.runtime.DjlRuntime;

/**
 * Child-process probe for {@link DjlOfflineTest}: loads the PyTorch engine through
 * {@link DjlRuntime} and trains a 4-32-32-1 MLP to regress {@code y = sum(x)}. Prints
 * {@code engine=}, {@code version=}, {@code initialLoss=}, {@code finalLoss=} lines.
 */
public final class OfflineTrainingProbe {

  private OfflineTrainingProbe() {}

  public static void main(String[] args) {
    Engine engine = DjlRuntime.engine();
    System.out.println("engine=" + engine.getEngineName());
    System.out.println("version=" + engine.getVersion());
    engine.setRandomSeed(7);
    try (Model model = Model.newInstance("probe", "PyTorch")) {
      SequentialBlock net = new SequentialBlock()
          .add(Linear.builder().setUnits(32).build()).add(Activation::relu)
          .add(Linear.builder().setUnits(32).build()).add(Activation::relu)
          .add(Linear.builder().setUnits(1).build());
      model.setBlock(net);
      DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.l2Loss())
          .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(1e-2f)).build());
      try (Trainer trainer = model.newTrainer(config); NDManager data = model.getNDManager().newSubManager()) {
        trainer.initialize(new Shape(64, 4));
        NDArray x = data.randomUniform(-1, 1, new Shape(64, 4));
        NDArray y = x.sum(new int[] {1}, true);
        float initial = 0;
        float last = 0;
        for (int step = 0; step < 300; step++) {
          try (NDManager sub = data.newSubManager(); GradientCollector gc = trainer.newGradientCollector()) {
            NDArray pred = trainer.forward(new NDList(x)).singletonOrThrow();
            NDArray loss = trainer.getLoss().evaluate(new NDList(y), new NDList(pred));
            gc.backward(loss);
            last = loss.getFloat();
            if (step == 0) {
              initial = last;
            }
            pred.close();
            loss.close();
          }
          trainer.step();
        }
        System.out.println("initialLoss=" + initial);
        System.out.println("finalLoss=" + last);
      }
    }
  }
}
