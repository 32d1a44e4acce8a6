package org.rql4j.policy;

import java.io.IOException;
import java.nio.file.Path;

/** A learned policy that saves itself to a folder that loads without the learner. */
public interface SavablePolicy extends Policy {

  void save(Path dir) throws IOException;

  /**
   * The policy of a trained learner (sharing its networks).
   *
   * @param prior the frozen prior (null when the learner does not use one)
   */
  static SavablePolicy of(org.rql4j.learner.OffPolicyLearner learner, org.rql4j.prior.PriorPolicy prior,
      org.rql4j.env.Space actionSpace, long seed) {
    if (learner instanceof org.rql4j.learner.ResidualSoftQLearning q) {
      return new CustomizedPolicy(q, learner.usesPrior() ? prior : null,
          ((org.rql4j.env.Space.Discrete) actionSpace).start(), seed);
    }
    if (learner instanceof org.rql4j.learner.ResidualSac sac) {
      return new SacPolicy(sac, seed);
    }
    throw new IllegalArgumentException("no policy for a " + learner.kind() + " learner");
  }
}
