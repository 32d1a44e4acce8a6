package org.rql4j.train;

/**
 * What every training loop reports of its progress ({@link OffPolicyTraining.Progress},
 * {@link OnPolicyTraining.Progress}): where it is, the recent training episodes' returns, and a line
 * for logs.
 */
public interface TrainingProgress {

  /** Env steps so far (over all copies). */
  long step();

  /** Env steps the run trains for. */
  long totalSteps();

  /** Mean return of the recent training episodes, on the reward the learner saw. */
  double recentEnvReturn();

  /** Mean basic return of the recent training episodes. */
  double recentBasicReturn();

  /** Mean add-on return of the recent training episodes. */
  double recentAddonReturn();

  /** The last loss (NaN before the first update). */
  double loss();

  /** Training wall time so far, segments before a resume included. */
  double trainSeconds();

  /** One line for a log. */
  String line();
}
