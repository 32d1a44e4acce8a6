"""examples/kl-budget: the user tasks' add-ons on hand-made steps, and the priors the scripts name."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "kl-budget"
PRIORS = EXAMPLE.parent / "priors"
sys.path.insert(0, str(EXAMPLE))
import feasibility  # noqa: E402
import kl_tasks  # noqa: E402
import train_priors  # noqa: E402


def call(fn, obs=(0.0,) * 6, action=0, next_obs=(0.0,) * 6, terminated=False):
    return fn(np.asarray(obs), action, np.asarray(next_obs), -1.0, terminated, False, {})


def test_mountaincar_stay_right_charges_steps_that_end_left_of_minus_0_9() -> None:
    assert call(kl_tasks.mountaincar_stay_right, next_obs=(-0.95, 0.01)) == -0.1
    assert call(kl_tasks.mountaincar_stay_right, obs=(-1.0, 0.0), next_obs=(-0.85, 0.01)) == 0.0
    assert call(kl_tasks.mountaincar_stay_right, action=np.array([2]), next_obs=(0.4, 0.05)) == 0.0


def test_invpendulum_centered_charges_the_drift_and_more_for_a_fall() -> None:
    assert call(kl_tasks.invpendulum_centered, next_obs=(-0.25, 0.0, 0.0, 0.0)) == pytest.approx(-0.25)
    assert call(kl_tasks.invpendulum_centered, next_obs=(0.5, 0.3, 0.0, 0.0), terminated=True) == pytest.approx(-200.5)
    # a fall costs more than the largest penalty a whole 1000-step episode can collect at the prior's drift
    prior_episode_penalty = 120.0
    assert -call(kl_tasks.invpendulum_centered, next_obs=(0.0,) * 4, terminated=True) > prior_episode_penalty


def test_cartpole_addons_charge_their_steps_and_more_for_a_fall() -> None:
    assert call(kl_tasks.cartpole_right_half, next_obs=(-0.01, 0.0, 0.0, 0.0)) == -0.1
    assert call(kl_tasks.cartpole_right_half, next_obs=(0.3, 0.0, 0.0, 0.0)) == 0.0
    assert call(kl_tasks.cartpole_right_half, next_obs=(2.5, 0.0, 0.0, 0.0), terminated=True) == -100.0
    assert call(kl_tasks.cartpole_slow_cart, next_obs=(0.0, -0.25, 0.0, 0.0)) == pytest.approx(-0.25)
    assert call(kl_tasks.cartpole_steady_pole, next_obs=(0.0, 0.0, 0.0, 0.5), terminated=True) == pytest.approx(-100.5)
    # a fall costs more than a whole 500-step episode left of the centre (-50): ending an episode never pays
    assert -call(kl_tasks.cartpole_right_half, next_obs=(0.0,) * 4, terminated=True) > 500 * 0.1
    assert call(kl_tasks.cartpole_left_half, next_obs=(0.01, 0.0, 0.0, 0.0)) == -0.1
    assert call(kl_tasks.cartpole_left_half, next_obs=(-0.3, 0.0, 0.0, 0.0)) == 0.0
    assert call(kl_tasks.cartpole_left_half, next_obs=(-2.5, 0.0, 0.0, 0.0), terminated=True) == -100.0
    assert call(kl_tasks.cartpole_left_half, next_obs=(2.5, 0.0, 0.0, 0.0), terminated=True) == pytest.approx(-100.1)


def test_cartpole_bonuses_pay_the_wished_half_and_nothing_else() -> None:
    assert call(kl_tasks.cartpole_left_bonus, next_obs=(-0.01, 0.0, 0.0, 0.0)) == 0.1
    assert call(kl_tasks.cartpole_left_bonus, next_obs=(0.3, 0.0, 0.0, 0.0)) == 0.0
    assert call(kl_tasks.cartpole_right_bonus, next_obs=(0.01, 0.0, 0.0, 0.0)) == 0.1
    assert call(kl_tasks.cartpole_right_bonus, next_obs=(-0.3, 0.0, 0.0, 0.0)) == 0.0
    # a fall pays nothing more: it only ends the bonus
    assert call(kl_tasks.cartpole_right_bonus, next_obs=(-2.5, 0.0, 0.0, 0.0), terminated=True) == 0.0
    assert call(kl_tasks.cartpole_left_bonus, next_obs=(2.5, 0.0, 0.0, 0.0), terminated=True) == 0.0
    assert call(kl_tasks.cartpole_left_bonus, next_obs=(-2.5, 0.0, 0.0, 0.0), terminated=True) == 0.1


def test_the_addons_answer_a_real_step_of_their_env_with_a_finite_float() -> None:
    for env_id, fn in (("MountainCar-v0", kl_tasks.mountaincar_stay_right),
                       ("InvertedPendulum-v5", kl_tasks.invpendulum_centered),
                       ("CartPole-v1", kl_tasks.cartpole_right_half),
                       ("CartPole-v1", kl_tasks.cartpole_left_bonus)):  # fmt: skip
        env = gym.make(env_id)
        obs, _ = env.reset(seed=0)
        action = env.action_space.sample()
        nxt, reward, terminated, truncated, info = env.step(action)
        value = fn(obs, action, nxt, reward, terminated, truncated, info)
        env.close()
        assert isinstance(value, float) and math.isfinite(value)


def test_every_prior_the_scripts_name_is_shipped_for_its_env() -> None:
    assert set(feasibility.TASKS) == set(train_priors.PRIORS)
    for name, (env_id, _, _, _, package, seed) in feasibility.TASKS.items():
        # the oracle trains at the prior's own seed: the CartPole-v1 DQN is seed 1 (seed 0 does not balance)
        assert seed == (1 if name == "cartpole-dqn" else 0), name
        spec = json.loads((PRIORS / package / "prior.json").read_text())
        action = gym.make(env_id).action_space
        assert spec["action_space"]["type"] == type(action).__name__, name
        assert (PRIORS / package / "policy.pt").is_file(), name
