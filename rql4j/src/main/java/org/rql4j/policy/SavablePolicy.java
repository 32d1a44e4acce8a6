package org.rql4j.policy;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A learned policy that saves itself to a folder that loads without the learner: each learner makes
 * its own ({@code OffPolicyLearner.policy}); {@code org.rql4j.learner.Policies.load} reads any saved one.
 */
public interface SavablePolicy extends Policy {

  void save(Path dir) throws IOException;
}
