"""Tasks: an env plus an add-on reward (the new requirement), in the variants a customization needs.

A task is registered with :func:`register_task`; it gets three Gymnasium ids, ``NAME-basic-v0``
(reward: the basic part), ``NAME-addon-v0`` (reward: the add-on part only, what a residual learner
sees) and ``NAME-total-v0`` (their sum, the oracle's reward and the one the tables are evaluated
on). Every variant reports both parts in ``info["basic_reward"]`` and ``info["addon_reward"]`` of
each ``step``.

A reward function is called after each step with what the step produced::

    def addon(obs, action, next_obs, reward, terminated, truncated, info) -> float: ...

``obs`` is the observation the action was taken in, ``next_obs`` the one the step returned,
``reward`` the base env's own reward for the step, ``info`` its info dict. A function that needs the
simulator's state (not only what the env observes) takes the env as an extra first argument::

    def addon(env, obs, action, next_obs, reward, terminated, truncated, info) -> float:
        x = env.unwrapped.state[0]  # the state after the step
        ...

The two forms are told apart by the number of positional parameters without a default (8: the env
first; 7: no env); parameters with a default may follow, as settings of the function.
The basic reward is the base env's own reward unless ``basic_reward`` gives another function of the
same form. Both must return a number (a Python or NumPy scalar); anything else stops the step with
an error naming the function.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, SupportsFloat

import gymnasium
from gymnasium.envs.registration import register, registry

VARIANTS = ("basic", "addon", "total")

RewardFunction = Callable[..., SupportsFloat]
"""``f([env,] obs, action, next_obs, reward, terminated, truncated, info) -> float`` (module docstring)."""

_TASK_ENTRY_POINT = "rql4j_bridge.tasks.core:make_task"


def resolve(target: str | Callable[..., Any], what: str) -> Callable[..., Any]:
    """``target`` itself if callable, else the attribute a ``"module:attribute"`` string names (importing the module).

    Raises a ValueError naming ``what`` when the string is malformed, the module does not import or
    the attribute is missing or not callable; the message says how modules are found.
    """
    if callable(target):
        return target
    if not isinstance(target, str) or target.count(":") != 1 or not all(target.split(":")):
        raise ValueError(f"{what} must be a function or 'module:function', got {target!r}")
    module_name, attribute = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:
        raise ValueError(
            f"{what} {target!r}: module {module_name!r} does not import ({type(e).__name__}: {e}); modules are "
            "found on the Python path (the working directory of the process and PYTHONPATH)"
        ) from e
    found = module
    for part in attribute.split("."):
        found = getattr(found, part, None)
    if not callable(found):
        raise ValueError(f"{what} {target!r}: module {module_name!r} has no function {attribute!r}")
    return found


def takes_env(fn: Callable[..., Any], what: str) -> bool:
    """Whether a reward function takes the env first (8 required positional parameters) or not (7); a ValueError
    otherwise. Parameters with a default (settings of the function) are not counted."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature: the 7-argument form
        return False
    required = [
        p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if len(required) == 8:
        return True
    if len(required) == 7 or (len(required) < 7 and any(p.kind is p.VAR_POSITIONAL for p in params)):
        return False
    raise ValueError(
        f"{what} {_name(fn)} takes {len(required)} positional parameters without a default; a reward function "
        "takes (obs, action, next_obs, reward, terminated, truncated, info), or the env first and then those 7"
    )


def _name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


class TaskReward(gymnasium.Wrapper):
    """Replaces the env's reward by the task's basic part, add-on part or their sum.

    Every variant reports both parts as Python floats in ``info["basic_reward"]`` and
    ``info["addon_reward"]`` of every ``step`` (not of ``reset``: there is no reward there), so any
    policy can be scored on both whatever reward it was trained on. Observations, actions,
    ``terminated`` and ``truncated`` pass through unchanged. ``addon_reward`` / ``basic_reward``:
    reward functions (module docstring) or ``"module:function"`` strings; ``basic_reward`` None: the
    env's own reward.
    """

    def __init__(
        self,
        env: gymnasium.Env,
        addon_reward: RewardFunction | str,
        variant: str = "total",
        basic_reward: RewardFunction | str | None = None,
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        super().__init__(env)
        self.addon_reward = resolve(addon_reward, "addon_reward")
        self.basic_reward = None if basic_reward is None else resolve(basic_reward, "basic_reward")
        self._addon_env = takes_env(self.addon_reward, "addon_reward")
        self._basic_env = self.basic_reward is not None and takes_env(self.basic_reward, "basic_reward")
        self.variant = variant
        self._obs: Any = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._obs = obs
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        next_obs, env_reward, terminated, truncated, info = self.env.step(action)
        args = (self._obs, action, next_obs, float(env_reward), terminated, truncated, info)
        addon = self._call(self.addon_reward, self._addon_env, args, "add-on")
        basic = args[3] if self.basic_reward is None else self._call(self.basic_reward, self._basic_env, args, "basic")
        self._obs = next_obs
        info = {**info, "basic_reward": basic, "addon_reward": addon}
        reward = {"basic": basic, "addon": addon, "total": basic + addon}[self.variant]
        return next_obs, reward, terminated, truncated, info

    def _call(self, fn: RewardFunction, with_env: bool, args: tuple[Any, ...], part: str) -> float:
        value = fn(self.env, *args) if with_env else fn(*args)
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
            ok = False
        else:
            ok = not isinstance(value, (str, bytes))
        if not ok:
            raise TypeError(
                f"the {part} reward {_name(fn)} returned {value!r} ({type(value).__name__}); it must return a number"
            )
        return number


@dataclass(frozen=True)
class Task:
    """A registered task (:func:`register_task`): how its env is made and rewarded."""

    name: str
    base_env: str | Callable[..., gymnasium.Env]
    addon_reward: RewardFunction | str
    basic_reward: RewardFunction | str | None = None
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None

    def env_id(self, variant: str) -> str:
        """The Gymnasium id of one variant: ``NAME-VARIANT-v0``."""
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        return f"{self.name}-{variant}-v0"


_tasks: dict[str, Task] = {}


def register_task(
    name: str,
    base_env: str | Callable[..., gymnasium.Env],
    addon_reward: RewardFunction | str,
    *,
    basic_reward: RewardFunction | str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    max_episode_steps: int | None = None,
) -> dict[str, str]:
    """Registers a task's three Gymnasium ids, ``NAME-basic-v0``, ``NAME-addon-v0``, ``NAME-total-v0``; returns them by variant.

    ``base_env``: a registered Gymnasium id (``"Pendulum-v1"``; made with ``gymnasium.make``, its own
    time limit kept unless ``max_episode_steps`` is given) or a factory ``f(render_mode=None, **kwargs)
    -> Env`` (a class or function, or a ``"module:attribute"`` string resolved on first make; the
    registered ``max_episode_steps`` is then the only time limit). ``addon_reward`` /
    ``basic_reward``: reward functions (module docstring) or ``"module:function"`` strings.
    ``env_kwargs``: passed to the base env (``gymnasium.make`` kwargs override them). Registering a
    name again replaces its task. ``name`` may carry a namespace (``"myteam/pendulum-gentle"``).

    Example, in a module the server imports (``rql4j-bridge serve --import mytasks``)::

        from rql4j_bridge.tasks import register_task

        def gentle(obs, action, next_obs, reward, terminated, truncated, info):
            return -0.1 * float(action[0]) ** 2   # a torque penalty

        register_task("pendulum-gentle", "Pendulum-v1", gentle)
    """
    if not name or name.endswith("-v0") or any(c.isspace() for c in name):
        raise ValueError(f"task name {name!r}: give a name without spaces or a version, e.g. 'pendulum-gentle'")
    for what, fn in (("addon_reward", addon_reward), ("basic_reward", basic_reward)):
        if callable(fn):
            takes_env(fn, what)  # the wrong number of parameters is refused now, not at the first step
        elif fn is not None and not (isinstance(fn, str) and fn.count(":") == 1 and all(fn.split(":"))):
            # a 'module:function' string is resolved when the env is made (so registering stays import-free)
            raise ValueError(f"{what} must be a function or 'module:function', got {fn!r}")
    if max_episode_steps is not None and max_episode_steps <= 0:
        raise ValueError(f"max_episode_steps must be > 0 or None, got {max_episode_steps}")
    task = Task(name, base_env, addon_reward, basic_reward, dict(env_kwargs or {}), max_episode_steps)
    _tasks[name] = task
    ids = {}
    for variant in VARIANTS:
        id_ = task.env_id(variant)
        if id_ in registry:
            del registry[id_]
        register(
            id=id_,
            entry_point=_TASK_ENTRY_POINT,
            # a factory base env gets the registration's time limit; an id keeps its own, applied by make_task
            max_episode_steps=max_episode_steps if not isinstance(base_env, str) or ":" in base_env else None,
            kwargs={"task": name, "variant": variant},
        )
        ids[variant] = id_
    return ids


def registered_tasks() -> dict[str, Task]:
    """The tasks registered in this process, by name (the built-in ``rql4j/...`` ones and any user ones)."""
    return dict(_tasks)


def make_task(task: str, variant: str = "total", render_mode: str | None = None, **kwargs: Any) -> gymnasium.Env:
    """The entry point of every registered task id: the base env (``kwargs`` over the task's env_kwargs) under TaskReward."""
    if task not in _tasks:
        raise ValueError(
            f"task {task!r} is not registered in this process: import the module that calls register_task "
            "(rql4j-bridge serve --import MODULE)"
        )
    t = _tasks[task]
    env_kwargs = {**t.env_kwargs, **kwargs}
    if isinstance(t.base_env, str) and ":" not in t.base_env:
        if t.max_episode_steps is not None:
            env_kwargs.setdefault("max_episode_steps", t.max_episode_steps)
        base = gymnasium.make(t.base_env, render_mode=render_mode, **env_kwargs)
    else:
        base = resolve(t.base_env, "base_env")(render_mode=render_mode, **env_kwargs)
    return TaskReward(base, t.addon_reward, variant, t.basic_reward)
