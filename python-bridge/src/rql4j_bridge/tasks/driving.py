"""highway-rightlane and parking-boundary: highway-env's highway-v0 / parking-v0 with the tasks' rewards.

Needs the ``highway-env`` package (``pip install 'rql4j-bridge[tasks]'``); importing this module
without it raises a ModuleNotFoundError that says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, SupportsFloat

import gymnasium
import numpy as np

try:
    from highway_env import utils
    from highway_env.envs.highway_env import HighwayEnv
    from highway_env.envs.parking_env import ParkingEnv
except ImportError as e:
    raise ModuleNotFoundError(
        "the rql4j/highway-rightlane-* and rql4j/parking-boundary-* tasks need the highway-env package "
        f"(pip install 'rql4j-bridge[tasks]' or pip install 'highway-env>=1.10'): {e}",
        name="highway_env",
    ) from e

from rql4j_bridge.tasks.core import make_task

# ---------------------------------------------------------------------------------------------
# highway-rightlane
# ---------------------------------------------------------------------------------------------

HIGHWAY_RIGHTLANE_CONFIG: dict[str, Any] = {
    "lanes_count": 3,
    "vehicles_count": 30,
    "vehicles_density": 1,
    "ego_spacing": 1.5,
    "duration": 40,  # [s]: 40 policy steps at 1 Hz
    "policy_frequency": 1,
    "simulation_frequency": 5,
    "observation": {
        "type": "Kinematics",
        "vehicles_count": 5,
        "features": ["presence", "x", "y", "vx", "vy"],
        "normalize": True,
        "absolute": False,
    },
    "action": {"type": "DiscreteMetaAction"},
}
"""highway-v0's config for highway-rightlane (keys as highway-env names them; the rest are its defaults)."""


def highway_rightlane_basic(env: gymnasium.Env, obs: Any, action: Any, next_obs: Any, reward: float,
                            terminated: bool, truncated: bool, info: dict[str, Any]) -> float:
    """``1 + 0.4 * clip((v cos psi - 20)/10, 0, 1) - 0.5 * crashed``; 0 off-road."""
    ego = env.unwrapped.vehicle
    if not ego.on_road:
        return 0.0
    speed = np.clip((ego.speed * np.cos(ego.heading) - 20.0) / 10.0, 0.0, 1.0)
    return 1.0 + 0.4 * speed - 0.5 * float(ego.crashed)


def highway_rightlane_addon(env: gymnasium.Env, obs: Any, action: Any, next_obs: Any, reward: float,
                            terminated: bool, truncated: bool, info: dict[str, Any]) -> float:
    """``0.5 * lane_index / (lanes - 1)``; 0 off-road."""
    highway = env.unwrapped
    ego = highway.vehicle
    if not ego.on_road:
        return 0.0
    # As highway-env's own right_lane_reward: the lane the ego is heading to (a lane change is
    # credited from the step that orders it), counted over the lanes beside the current one.
    lane_index = getattr(ego, "target_lane_index", ego.lane_index)[2]
    lanes = len(highway.road.network.all_side_lanes(ego.lane_index))
    return 0.5 * lane_index / max(lanes - 1, 1)


def highway_rightlane_env(render_mode: str | None = None, config: Mapping[str, Any] | None = None) -> gymnasium.Env:
    """highway-v0 as HIGHWAY_RIGHTLANE_CONFIG (top-level keys of ``config`` replace its): the task's base env."""
    return HighwayEnv({**HIGHWAY_RIGHTLANE_CONFIG, **(config or {})}, render_mode=render_mode)


def make_highway_rightlane(
    variant: str = "total", render_mode: str | None = None, config: Mapping[str, Any] | None = None
) -> gymnasium.Env:
    """highway_rightlane_env with the task's rewards (no time limit: the registration's)."""
    return make_task("rql4j/highway-rightlane", variant, render_mode, config=config)


# ---------------------------------------------------------------------------------------------
# parking-boundary
# ---------------------------------------------------------------------------------------------

PARKING_SCALES = (100.0, 100.0, 5.0, 5.0, 1.0, 1.0)
PARKING_BOUNDARY_CONFIG: dict[str, Any] = {
    "observation": {
        "type": "KinematicsGoal",
        "features": ["x", "y", "vx", "vy", "cos_h", "sin_h"],
        "scales": list(PARKING_SCALES),
        "normalize": False,
    },
    "action": {"type": "ContinuousAction"},
    "reward_weights": [1, 0.3, 0, 0, 0.02, 0.02],
    "success_goal_reward": 0.12,
    "collision_reward": 0,  # no collision term
    "add_walls": False,
    "vehicles_count": 0,
    "policy_frequency": 5,
    "simulation_frequency": 15,
    "duration": 20,  # [s]: 100 policy steps at 5 Hz (the registered TimeLimit of 100 enforces it exactly)
}
"""parking-v0's config for parking-boundary (keys as highway-env names them; the rest are its defaults)."""

PARKING_SPOTS = 15
"""Spots a row (highway-env builds 14 and has no config key for it, hence ParkingBoundaryEnv)."""

SIDE_LINE_LENGTH, SIDE_LINE_WIDTH, SIDE_LINE_OFFSET = 8.0, 0.1, 2.0  # [m]


class ParkingBoundaryEnv(ParkingEnv):
    """parking-v0 with PARKING_SPOTS spots a row."""

    def _create_road(self, spots: int = PARKING_SPOTS) -> None:
        super()._create_road(spots)


def flatten_parking_obs(obs: Mapping[str, np.ndarray]) -> np.ndarray:
    """A KinematicsGoal observation dict as one float32 vector of 12: ``[desired_goal; observation]``.

    Indices 0-5 are the goal, 6-11 the ego vehicle, each ``[x/100, y/100, vx/5, vy/5, cos_h, sin_h]``
    (highway-env divides by the config's ``scales``; ``achieved_goal`` equals ``observation``).
    """
    return np.concatenate([obs["desired_goal"], obs["observation"]]).astype(np.float32)


class FlatParkingObservation(gymnasium.ObservationWrapper):
    """Observations through flatten_parking_obs (a Box of 12, no HER dict); ``info["is_success"]`` as float 0/1."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, shape=(12,), dtype=np.float32)

    def observation(self, observation: Mapping[str, np.ndarray]) -> np.ndarray:
        return flatten_parking_obs(observation)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = super().reset(**kwargs)
        return obs, _success_as_float(info)

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, reward, terminated, truncated, _success_as_float(info)


def _success_as_float(info: dict[str, Any]) -> dict[str, Any]:
    return {**info, "is_success": float(info["is_success"])} if "is_success" in info else info


def goal_side_lines(goal: Any) -> list[np.ndarray]:
    """The goal spot's side lines as closed polygons: 8 m x 0.1 m, centred 2 m either side across the goal heading."""
    across = np.array([-np.sin(goal.heading), np.cos(goal.heading)])
    lines = []
    for side in (-1.0, 1.0):
        corners = utils.rect_corners(
            goal.position + side * SIDE_LINE_OFFSET * across, SIDE_LINE_LENGTH, SIDE_LINE_WIDTH, goal.heading
        )
        lines.append(np.vstack([corners, corners[:1]]))
    return lines


def touches_side_line(vehicle: Any) -> bool:
    """Whether the vehicle's rectangle intersects either side line of its goal spot (highway-env's SAT test)."""
    still = np.zeros(2)
    return any(
        utils.are_polygons_intersecting(vehicle.polygon(), line, still, still)[0]
        for line in goal_side_lines(vehicle.goal)
    )


def parking_boundary_basic(env: gymnasium.Env, obs: Any, action: Any, next_obs: Any, reward: float,
                           terminated: bool, truncated: bool, info: dict[str, Any]) -> float:
    """``-(|ego - goal| . [1, .3, 0, 0, .02, .02])^0.5``."""
    parking = env.unwrapped
    # Scaled features [x/100, y/100, vx/5, vy/5, cos_h, sin_h], as highway-env's own parking reward
    # (compute_reward with p = 0.5 on observation_type_parking) and success test use them.
    features = parking.observation_type_parking.observe()
    distance = np.dot(np.abs(features["achieved_goal"] - features["desired_goal"]), parking.config["reward_weights"])
    return -float(distance**0.5)


def parking_boundary_addon(env: gymnasium.Env, obs: Any, action: Any, next_obs: Any, reward: float,
                           terminated: bool, truncated: bool, info: dict[str, Any]) -> float:
    """``-1`` while the ego touches a side line of its goal spot."""
    return -1.0 if touches_side_line(env.unwrapped.vehicle) else 0.0


def parking_boundary_env(render_mode: str | None = None, config: Mapping[str, Any] | None = None) -> gymnasium.Env:
    """parking-v0, 15 spots a row, as PARKING_BOUNDARY_CONFIG (``config`` keys replace its), flat obs: the base env."""
    return FlatParkingObservation(
        ParkingBoundaryEnv({**PARKING_BOUNDARY_CONFIG, **(config or {})}, render_mode=render_mode)
    )


def make_parking_boundary(
    variant: str = "total", render_mode: str | None = None, config: Mapping[str, Any] | None = None
) -> gymnasium.Env:
    """parking_boundary_env with the task's rewards (no time limit: the registration's)."""
    return make_task("rql4j/parking-boundary", variant, render_mode, config=config)
