"""Prior training: the PyTorch side that MAKES the frozen priors the Java learners customize.

``python -m rql4j_bridge.train <command>``:

- ``expert``    SB3 expert (PPO or DQN) on a task's BASIC variant, seeded -> zip
- ``demos``     the expert rolled out deterministically -> (obs, action) .npz
- ``bc``        behaviour cloning ([256,256] ReLU classifier) -> ``categorical`` prior package (``bc``)
- ``soft-dqn``  max-entropy soft DQN ([256,256]) -> ``categorical`` prior package (``soft-dqn``)
- ``evaluate``  a prior package's argmax policy on the TOTAL variant, 20 seeded episodes
- ``pipeline``  all of the above for a task, writing ``examples/priors/<task>-{bc,softdqn}/`` and README

Importing this package imports torch (and the task envs); stable-baselines3 only for the expert.
"""

from __future__ import annotations

from rql4j_bridge.train.soft_dqn import SoftDQN, SoftDQNConfig, soft_target, soft_value

__all__ = ["SoftDQN", "SoftDQNConfig", "soft_target", "soft_value"]
