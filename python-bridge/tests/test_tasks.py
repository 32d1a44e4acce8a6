"""The customization task envs of rql4j_bridge.tasks (docs/tasks.md), on the real base envs."""

from __future__ import annotations

import os
import subprocess
import sys

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rql4j_bridge.tasks as tasks
from rql4j_bridge.tasks import VARIANTS, TaskReward, env_id

highway_env = pytest.importorskip("highway_env")  # the dev extra brings it

from rql4j_bridge.tasks import driving  # noqa: E402

LOCOMOTION = ("halfcheetah-speedcap", "hopper-height", "ant-energy")

LANE_RIGHT = 2  # DiscreteMetaAction: 0 LANE_LEFT, 1 IDLE, 2 LANE_RIGHT, 3 FASTER, 4 SLOWER


def _fixed_actions(task: str) -> list:
    """A short fixed action sequence per task (highway-env envs step at tens of steps per second)."""
    if task == "cartpole-center":
        return [0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0] * 2
    if task == "mountaincar-lessleft":
        return [np.array([a], np.float32) for a in (-1.0, -0.5, -0.01, 0.0, 0.01, 0.5, 1.0, 0.3, -0.3, 2.0, -2.0)] * 3
    if task == "highway-rightlane":
        return [1, 2, 3, 1, 0, 4]
    if task in LOCOMOTION:
        space = gymnasium.make(env_id(task, "basic")).action_space
        return list(np.random.default_rng(11).uniform(-1, 1, size=(40, *space.shape)).astype(np.float32))
    return [np.array(a, np.float32) for a in ([1.0, 0.0], [0.5, 0.5], [0.0, -1.0], [-0.5, 0.2], [1.0, 1.0])] * 2


def _rollout(env: gymnasium.Env, seed: int, actions: list) -> list[tuple]:
    obs, info = env.reset(seed=seed)
    assert "basic_reward" not in info and "addon_reward" not in info  # only steps report the parts
    steps = [(obs, None, False, False, {})]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        steps.append((obs, reward, terminated, truncated, info))
        if terminated or truncated:
            break
    return steps


ALL_IDS = [env_id(task, variant) for task in tasks.TASKS for variant in VARIANTS]


def test_every_task_and_variant_is_registered() -> None:
    assert tasks.registered_ids() == ALL_IDS
    assert all(i in gymnasium.registry for i in ALL_IDS)
    assert ALL_IDS[0] == "rql4j/cartpole-center-basic-v0"
    steps = {"cartpole-center": 500, "mountaincar-lessleft": 999, "highway-rightlane": 40, "parking-boundary": 100}
    steps.update({task: 1000 for task in LOCOMOTION})
    for task, max_steps in steps.items():
        for variant in VARIANTS:
            spec = gymnasium.spec(env_id(task, variant))
            assert spec.max_episode_steps == max_steps and spec.kwargs == {"task": f"rql4j/{task}", "variant": variant}


@pytest.mark.filterwarnings("ignore:.*different from the unwrapped version")
@pytest.mark.filterwarnings("ignore:.*observation space (minimum|maximum) value")
@pytest.mark.parametrize("id_", ALL_IDS)
def test_env_checker_passes(id_: str) -> None:
    env = gymnasium.make(id_)
    check_env(env, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("task", list(tasks.TASKS))
def test_variants_share_trajectory_and_report_both_parts(task: str) -> None:
    actions = _fixed_actions(task)
    runs = {v: _rollout(gymnasium.make(env_id(task, v)), seed=7, actions=actions) for v in VARIANTS}
    basic_run, addon_run, total_run = runs["basic"], runs["addon"], runs["total"]
    assert len(basic_run) == len(addon_run) == len(total_run) > 1
    for b, a, t in zip(basic_run, addon_run, total_run, strict=True):
        np.testing.assert_array_equal(b[0], a[0])
        np.testing.assert_array_equal(b[0], t[0])
        assert b[2:4] == a[2:4] == t[2:4]
    for b, a, t in zip(basic_run[1:], addon_run[1:], total_run[1:], strict=True):
        parts = [(s[4]["basic_reward"], s[4]["addon_reward"]) for s in (b, a, t)]
        assert parts[0] == parts[1] == parts[2]
        basic, addon = parts[0]
        assert type(basic) is float and type(addon) is float
        assert b[1] == basic and a[1] == addon
        assert t[1] == pytest.approx(basic + addon, abs=1e-12)


def test_cartpole_center_formula_from_the_post_step_observation() -> None:
    env = gymnasium.make("rql4j/cartpole-center-total-v0")
    steps = _rollout(env, seed=3, actions=[1] * 30)
    assert steps[-1][2]  # pushed right until it fell: terminated as CartPole-v1
    for obs, reward, _, _, info in steps[1:]:
        x, theta = float(obs[0]), float(obs[2])
        assert info["basic_reward"] == pytest.approx(1 - 10 * abs(theta) / 0.2095, abs=1e-5)
        assert info["addon_reward"] == pytest.approx(-abs(x) / 2.4, abs=1e-6)
        assert reward == pytest.approx(1 - 10 * abs(theta) / 0.2095 - abs(x) / 2.4, abs=1e-5)
    assert steps[-1][4]["basic_reward"] < 0  # |theta| past 0.2095 / 10


def test_mountaincar_lessleft_formula() -> None:
    actions = _fixed_actions("mountaincar-lessleft")
    ours = _rollout(gymnasium.make("rql4j/mountaincar-lessleft-addon-v0"), seed=5, actions=actions)
    base = _rollout(gymnasium.make("MountainCarContinuous-v0"), seed=5, actions=actions)
    for action, step, base_step in zip(actions, ours[1:], base[1:], strict=True):
        assert step[4]["addon_reward"] == (-0.1 if action[0] < 0 else 0.0)
        assert step[1] == step[4]["addon_reward"]
        assert step[4]["basic_reward"] == pytest.approx(float(base_step[1]), abs=1e-12)  # the env's own reward
        # -0.1 a^2 of the action as given (MountainCarContinuous-v0 clips only the force to [-1, 1])
        assert step[4]["basic_reward"] == pytest.approx(-0.1 * float(action[0]) ** 2, abs=1e-9)
        np.testing.assert_array_equal(step[0], base_step[0])


@pytest.mark.parametrize(
    ("task", "base_id", "base_kwargs"),
    [
        ("halfcheetah-speedcap", "HalfCheetah-v5", {}),
        ("hopper-height", "Hopper-v5", {}),
        ("ant-energy", "Ant-v5", {"include_cfrc_ext_in_observation": False}),
    ],
)
def test_locomotion_tasks_keep_the_env_and_its_reward_as_basic(task: str, base_id: str, base_kwargs: dict) -> None:
    """Same observations, terminations and reward (as basic) as the Gymnasium env; the add-on from its own formula."""
    from rql4j_bridge.tasks import locomotion

    actions = _fixed_actions(task)
    ours_env = gymnasium.make(env_id(task, "addon"))
    ours = _rollout(ours_env, seed=4, actions=actions)
    base = _rollout(gymnasium.make(base_id, **base_kwargs), seed=4, actions=actions)
    assert len(ours) == len(base) > 5
    data = ours_env.unwrapped.data
    for step, base_step in zip(ours[1:], base[1:], strict=True):
        np.testing.assert_array_equal(step[0], base_step[0])
        assert step[2:4] == base_step[2:4]
        assert step[4]["basic_reward"] == float(base_step[1])
        assert step[1] == step[4]["addon_reward"] <= 0.0
    # the last step's add-on from the simulator state it left
    addon = ours[-1][4]["addon_reward"]
    if task == "halfcheetah-speedcap":
        assert addon == -max(0.0, float(data.qvel[0]) - locomotion.SPEED_CAP)
        assert ours[-1][4]["x_velocity"] == pytest.approx(
            float(data.qvel[0]), abs=2.0
        )  # the env's own (finite difference)
    elif task == "hopper-height":
        fell = ours[-1][2]  # terminated: the hopper left the healthy range
        assert fell, "40 random actions should topple the hopper (the fall term is what this checks)"
        assert addon == -max(0.0, float(data.qpos[1]) - locomotion.HEIGHT_CEILING) - locomotion.FALL_PENALTY
        assert all(step[4]["addon_reward"] > -locomotion.FALL_PENALTY for step in ours[1:-1])  # no fall before
    else:
        model = ours_env.unwrapped.model
        torque = np.clip(actions[len(ours) - 2], -1, 1) * model.actuator_gear[:, 0]  # motor torque = ctrl x gear
        joint_velocity = data.qvel[model.jnt_dofadr[model.actuator_trnid[:, 0]]]  # each motor's own joint
        assert addon == pytest.approx(-locomotion.ENERGY_COEF * np.abs(torque * joint_velocity).sum(), rel=1e-9)
        assert addon < 0.0


def test_locomotion_addons_bite_where_they_say() -> None:
    """Each add-on is 0 inside its limit and falls linearly past it (driven by setting the simulator state)."""
    from rql4j_bridge.tasks import locomotion

    cheetah = gymnasium.make(env_id("halfcheetah-speedcap", "addon")).unwrapped
    cheetah.reset(seed=0)
    hopper = gymnasium.make(env_id("hopper-height", "addon")).unwrapped
    hopper.reset(seed=0)
    zero = np.zeros(6)
    qpos, qvel = cheetah.data.qpos.copy(), cheetah.data.qvel.copy()
    for v, want in [(locomotion.SPEED_CAP - 1.0, 0.0), (locomotion.SPEED_CAP + 0.5, -0.5)]:
        qvel[0] = v
        cheetah.set_state(qpos, qvel)
        assert locomotion.halfcheetah_speedcap_addon(cheetah, None, zero, None, 0.0, False, False, {}) == pytest.approx(want)
    qpos, qvel = hopper.data.qpos.copy(), hopper.data.qvel.copy()
    # healthy z is above 0.7 (Hopper-v5): a torso at 0.5 has fallen
    for z, want in [
        (locomotion.HEIGHT_CEILING - 0.1, 0.0),
        (locomotion.HEIGHT_CEILING + 0.25, -0.25),
        (0.5, -locomotion.FALL_PENALTY),
    ]:
        qpos[1] = z
        hopper.set_state(qpos, qvel)
        assert locomotion.hopper_height_addon(hopper, None, np.zeros(3), None, 0.0, False, False, {}) == pytest.approx(want)
    # a hopper made not to end its episodes when unhealthy is not charged for falling (it has not ended)
    lying = gymnasium.make(env_id("hopper-height", "addon"), terminate_when_unhealthy=False).unwrapped
    lying.reset(seed=0)
    qpos[1] = 0.5
    lying.set_state(qpos, qvel)
    assert not lying.is_healthy
    assert locomotion.hopper_height_addon(lying, None, np.zeros(3), None, 0.0, False, False, {}) == 0.0


def test_highway_rightlane_rises_to_half_when_driving_right() -> None:
    env = gymnasium.make("rql4j/highway-rightlane-addon-v0", config={"initial_lane_id": 0})
    env.reset(seed=2)
    highway = env.unwrapped
    assert highway.config["lanes_count"] == 3 and highway.config["simulation_frequency"] == 5
    assert highway.vehicle.lane_index[2] == 0
    addons = []
    for _ in range(3):
        _, reward, terminated, _, info = env.step(LANE_RIGHT)
        assert not terminated
        ego = highway.vehicle
        assert reward == info["addon_reward"] == pytest.approx(0.5 * ego.target_lane_index[2] / 2)
        # highway-env's own reward terms (info["rewards"]), mapped to the table's formulas
        own = info["rewards"]
        assert own["on_road_reward"] == 1.0
        assert info["addon_reward"] == pytest.approx(0.5 * own["right_lane_reward"])
        assert info["basic_reward"] == pytest.approx(
            1 + 0.4 * own["high_speed_reward"] - 0.5 * own["collision_reward"], abs=1e-12
        )
        speed = np.clip((ego.speed * np.cos(ego.heading) - 20) / 10, 0, 1)
        assert info["basic_reward"] == pytest.approx(1 + 0.4 * speed - 0.5 * ego.crashed, abs=1e-12)
        addons.append(info["addon_reward"])
    assert addons == [0.25, 0.5, 0.5]


@pytest.mark.parametrize("max_episode_steps", [None, -1])  # with the registered TimeLimit, and highway-env's own
def test_highway_rightlane_truncates_at_40_policy_steps(max_episode_steps: int | None) -> None:
    env = gymnasium.make(
        "rql4j/highway-rightlane-total-v0", config={"vehicles_count": 0}, max_episode_steps=max_episode_steps
    )
    steps = _rollout(env, seed=0, actions=[1] * 60)  # empty road: nothing to crash into
    assert len(steps) == 41 and steps[-1][3] and not steps[-1][2]
    assert not any(s[2] or s[3] for s in steps[:-1])


def test_highway_rightlane_parts_are_zero_off_road() -> None:
    env = gymnasium.make("rql4j/highway-rightlane-total-v0")
    env.reset(seed=0)
    env.unwrapped.vehicle.position = np.array([env.unwrapped.vehicle.position[0], 100.0])  # far off the road
    args = (env, None, 1, None, 0.0, False, False, {})
    assert driving.highway_rightlane_basic(*args) == driving.highway_rightlane_addon(*args) == 0.0


def _place_ego(env: gymnasium.Env, across_m: float, heading_offset: float = 0.0) -> None:
    """Stops the ego at the goal spot's centre shifted across it (towards a side line) by across_m metres."""
    ego = env.unwrapped.vehicle
    goal = ego.goal
    across = np.array([-np.sin(goal.heading), np.cos(goal.heading)])
    ego.position = goal.position + across_m * across
    ego.heading = goal.heading + heading_offset
    ego.speed = 0.0


def still() -> np.ndarray:
    """Zero acceleration and steering (a fresh array each time: highway-env puts the action in info)."""
    return np.zeros(2, np.float32)


@pytest.mark.parametrize(
    ("across_m", "heading_offset", "addon"),
    [
        (2.0, 0.0, -1.0),  # centred on the +2 m side line
        (-2.0, 0.0, -1.0),  # centred on the -2 m side line
        (1.0, 0.0, -1.0),  # 1 m wide half-body reaches 2.0 m, past the line's inner edge at 1.95 m
        (0.9, 0.0, 0.0),  # reaches 1.9 m: clear of it
        (2.0, np.pi / 2, -1.0),  # across the line, no corner of either rectangle inside the other
        (6.0, 0.0, 0.0),  # in the next spot
    ],
)
def test_parking_boundary_addon_on_the_side_lines(across_m: float, heading_offset: float, addon: float) -> None:
    env = gymnasium.make("rql4j/parking-boundary-addon-v0")
    env.reset(seed=4)
    _place_ego(env, across_m, heading_offset)
    obs, reward, terminated, _, info = env.step(still())
    assert reward == info["addon_reward"] == addon
    # basic, independently from the flat observation ([goal; ego], scaled features)
    expected = -(np.dot(np.abs(obs[6:].astype(np.float64) - obs[:6]), [1, 0.3, 0, 0, 0.02, 0.02]) ** 0.5)
    assert info["basic_reward"] == pytest.approx(expected, abs=1e-5)
    assert info["is_success"] == float(info["basic_reward"] > -0.12)
    assert terminated == bool(info["is_success"])


def test_parking_boundary_success_terminates_and_basic_is_highway_envs_reward() -> None:
    env = gymnasium.make("rql4j/parking-boundary-basic-v0")
    obs, info = env.reset(seed=4)
    assert obs.shape == (12,) and obs.dtype == np.float32 and info["is_success"] == 0.0
    parking = env.unwrapped
    assert len(parking.road.network.graph["a"]["b"]) == 15 == len(parking.road.network.graph["b"]["c"])
    assert not any(type(o).__name__ == "Obstacle" for o in parking.road.objects)  # no walls
    obs, reward, terminated, truncated, info = env.step(still())
    goal = parking.observation_type_parking.observe()
    assert reward == pytest.approx(parking.compute_reward(goal["achieved_goal"], goal["desired_goal"], {}), abs=1e-12)
    assert not terminated and info["is_success"] == 0.0
    _place_ego(env, 0.0)
    obs, reward, terminated, truncated, info = env.step(still())
    assert terminated and not truncated and info["is_success"] == 1.0
    assert reward == info["basic_reward"] == pytest.approx(0.0, abs=1e-7) and info["addon_reward"] == 0.0


def test_parking_boundary_truncates_at_100_policy_steps() -> None:
    env = gymnasium.make("rql4j/parking-boundary-total-v0")
    steps = _rollout(env, seed=1, actions=[still() for _ in range(120)])  # standing still at the start: never parks
    assert len(steps) == 101
    assert all(not s[2] and not s[3] for s in steps[:-1]) and steps[-1][3] and not steps[-1][2]


def test_flatten_parking_obs_order_and_scales() -> None:
    env = gymnasium.make("rql4j/parking-boundary-total-v0")
    obs, _ = env.reset(seed=9)
    ego, goal = env.unwrapped.vehicle, env.unwrapped.vehicle.goal
    scales = np.array(driving.PARKING_SCALES)
    np.testing.assert_allclose(
        obs[:6], np.array([*goal.position, 0, 0, np.cos(goal.heading), np.sin(goal.heading)]) / scales, atol=1e-6
    )
    np.testing.assert_allclose(obs[6:], np.array([*ego.position, *ego.velocity, *ego.direction]) / scales, atol=1e-6)
    raw = {"observation": np.arange(6.0), "achieved_goal": np.arange(6.0), "desired_goal": -np.arange(6.0)}
    np.testing.assert_array_equal(driving.flatten_parking_obs(raw), np.r_[-np.arange(6.0), np.arange(6.0)])


@pytest.mark.parametrize("task", list(tasks.TASKS))
def test_seeds_are_honoured(task: str) -> None:
    actions = _fixed_actions(task)
    first = _rollout(gymnasium.make(env_id(task, "total")), seed=11, actions=actions)
    second = _rollout(gymnasium.make(env_id(task, "total")), seed=11, actions=actions)
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:4] == b[1:4]
    other = _rollout(gymnasium.make(env_id(task, "total")), seed=12, actions=actions)
    assert not np.array_equal(first[0][0], other[0][0])


def test_task_reward_rejects_unknown_variant() -> None:
    with pytest.raises(ValueError, match="variant"):
        TaskReward(gymnasium.make("CartPole-v1"), "rql4j_bridge.tasks.classic:cartpole_center_addon", "both")


@pytest.mark.parametrize(
    ("package", "module", "n_tasks", "kept", "gone"),
    [
        ("highway_env", "driving", 2, "rql4j/hopper-height-total-v0", "rql4j/parking-boundary-total-v0"),
        ("mujoco", "locomotion", 3, "rql4j/parking-boundary-total-v0", "rql4j/hopper-height-total-v0"),
    ],
)
def test_without_an_optional_package_its_tasks_do_not_register(
    package: str, module: str, n_tasks: int, kept: str, gone: str
) -> None:
    code = (
        f"import sys; sys.modules[{package!r}] = None\n"
        "import gymnasium, rql4j_bridge.tasks as t\n"
        "assert [i for i in gymnasium.registry if i.startswith('rql4j/')] == t.registered_ids()\n"
        f"assert len(t.registered_ids()) == {len(ALL_IDS) - 3 * n_tasks} and {gone!r} not in gymnasium.registry\n"
        f"assert {kept!r} in gymnasium.registry\n"
        "gymnasium.make('rql4j/cartpole-center-total-v0').reset(seed=0)\n"
        "try:\n"
        f"    import rql4j_bridge.tasks.{module}\n"
        "except ModuleNotFoundError as e:\n"
        "    print(e)\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert package.replace("_", "-") in out.stdout and "pip install" in out.stdout


def test_mujoco_warnings_are_logged_not_written_to_the_working_directory(tmp_path, monkeypatch, caplog) -> None:
    import mujoco

    from rql4j_bridge.tasks import locomotion  # noqa: F401  (installs the handler)

    monkeypatch.chdir(tmp_path)
    assert mujoco.get_mju_user_warning() is not None
    for task in LOCOMOTION:
        gymnasium.make(env_id(task, "total")).reset(seed=0)
    # a deprecated attribute, as in Gymnasium's Ant and HalfCheetah models: MuJoCo warns while compiling
    xml = (
        '<mujoco><compiler settotalmass="2"/><worldbody><body><freejoint/><geom size=".1"/></body></worldbody></mujoco>'
    )
    with caplog.at_level("WARNING", logger="rql4j_bridge.tasks.locomotion"):
        mujoco.MjModel.from_xml_string(xml)
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()
