"""Prior training: the PyTorch side that MAKES the frozen priors the Java learners customize.

``python -m rql4j_bridge.train <command>``:

- ``expert``    SB3 expert (DQN, PPO or SAC) on a task's BASIC variant, seeded -> zip
- ``sac-prior`` a SAC expert zip -> ``squashed_gaussian`` prior package (``sb3-sac``, the SB3 exporter)
- ``ppo-prior`` a PPO expert zip (Box actions) -> ``diag_gaussian`` prior package (``sb3-ppo``): the
  MuJoCo tasks' priors, which have no pipeline (their PPO expert is the prior)
- ``demos``     the expert rolled out deterministically -> (obs, action) .npz
- ``bc``        behaviour cloning -> ``categorical`` (Discrete: MLP classifier) or ``squashed_gaussian``
  (Box: MLP -> (mean, log_std), maximum likelihood) prior package (``bc``)
- ``soft-dqn``  max-entropy soft DQN -> ``categorical`` prior package (``soft-dqn``)
- ``evaluate``  a prior package's deterministic policy on the TOTAL variant, 20 seeded episodes
- ``pipeline``  all of the above for a task, writing ``examples/priors/<task>-{bc,softdqn}/`` (Discrete
  actions) or ``<task>-{sac,bc}/`` (Box actions) and the README section

Per-task defaults (budgets, hyperparameters): ``rql4j_bridge.train.defaults.TASK_DEFAULTS``.
Importing this package imports torch (and the task envs); stable-baselines3 only for the expert.
"""

from __future__ import annotations

from rql4j_bridge.train.soft_dqn import SoftDQN, SoftDQNConfig, soft_target, soft_value

__all__ = ["SoftDQN", "SoftDQNConfig", "soft_target", "soft_value"]
