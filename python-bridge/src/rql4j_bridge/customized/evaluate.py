"""``evaluate_policy``: an exported customized policy and its prior, side by side on the same episodes.

The folder ``export_policy`` writes (``rql4j export RUN --out DIR``) holds the customized policy and,
in ``prior/``, the prior it was customized from. :func:`evaluate_policy` runs both the way Java's
``Evaluator`` does (docs/tasks.md, "How a result is reported"), so that the numbers compare with a
run's own table:

- one episode per seed, seeds ``10000 .. 10000 + episodes - 1``, ``env.reset(seed=seed)``;
- deterministic actions (``predict(obs, deterministic=True)`` of :func:`~rql4j_bridge.load_policy`);
- basic return: the sum of ``info["basic_reward"]``, add-on return: the sum of ``info["addon_reward"]``
  (NaN, "not reported", when the env does not report it in every step), env return: the sum of the
  rewards, length: the steps until ``terminated`` or ``truncated``;
- the table's cells: mean ± population std over the episodes, one decimal, rounded half up as Java's
  ``String.format("%.1f")``.

The env is the run's evaluation env unless ``env_id`` is given: a built-in task's ``-total-v0`` id,
else the ``eval_env_id`` the run recorded, else its ``env_id``, with the run's recorded add-on
applied (:class:`~rql4j_bridge.tasks.core.TaskReward`) when that env does not report both parts
itself.

It also measures how far the customization moved the policy: the mean per step of
``KL(customized(.|s) || prior(.|s))`` over the states the customized policy visits in its episodes
(and over those the prior visits). Categorical: exact, from the log-probabilities (renormalized in
float64, so that float32 rounding of the normalization does not show as a spurious first-order
term). Gaussians (both ``diag_gaussian`` or both ``squashed_gaussian``): the closed form of two
diagonal Gaussians on the pre-tanh ``(mean, log_std)``; tanh is a bijection, so the squashed
policies' KL is the same number. Different families: no KL, with the reason. Sums in float64.

``video="out.gif"`` / ``"out.mp4"`` renders one episode of each (the first seed unless
``video_seed``) with ``render_mode="rgb_array"``, the prior on the left and the customized policy on
the right of each frame; needs the ``video`` extra (imageio, pillow, imageio-ffmpeg).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import math
import os
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from torch import Tensor

from rql4j_bridge.customized.load import ExportedPolicy, load_policy
from rql4j_bridge.prior.package import SIDE_CAR

__all__ = [
    "EVALUATION_FORMAT",
    "FIRST_SEED",
    "VIDEO_EXTENSIONS",
    "VIDEO_PIP",
    "Episode",
    "Evaluation",
    "Summary",
    "evaluate_policy",
    "kl_divergence",
    "seeds",
]

EVALUATION_FORMAT = "rql4j-evaluation/1"
FIRST_SEED = 10_000  # Java's Evaluator.defaultSeeds
VIDEO_EXTENSIONS = (".gif", ".mp4")
VIDEO_PIP = "pip install 'rql4j-bridge[video]'"
PRIOR_ROW = "prior alone"
CUSTOMIZED_ROW = "customized"
TABLE_HEADER = "| policy | basic return | add-on return | length |\n|---|---|---|---|"
_KL_CHUNK = 4096  # states per forward call when measuring the KL
_GAUSSIANS = ("diag_gaussian", "squashed_gaussian")


def seeds(episodes: int) -> list[int]:
    """The evaluation seeds: 10000 .. 10000 + episodes - 1 (Java's ``Evaluator.defaultSeeds``)."""
    return [FIRST_SEED + i for i in range(episodes)]


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Episode:
    """One episode, as Java's ``Evaluator.Episode``; ``kl``: the mean per step of KL(customized || prior) over
    this episode's states (None when there is no KL)."""

    seed: int
    basic_return: float  # NaN: the env did not report info["basic_reward"] in every step
    addon_return: float  # NaN: not reported
    env_return: float
    length: int
    terminated: bool
    kl: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "basic_return": _finite_or_none(self.basic_return),
            "addon_return": _finite_or_none(self.addon_return),
            "env_return": _finite_or_none(self.env_return),
            "length": self.length,
            "terminated": self.terminated,
            "kl": None if self.kl is None else _finite_or_none(self.kl),
        }


_COLUMNS: dict[str, Callable[[Episode], float]] = {
    "basic_return": lambda e: e.basic_return,
    "addon_return": lambda e: e.addon_return,
    "env_return": lambda e: e.env_return,
    "length": lambda e: float(e.length),
}


@dataclass(frozen=True)
class Summary:
    """Episodes with their means and population standard deviations (Java's ``Evaluator.Summary``)."""

    episodes: tuple[Episode, ...]

    def mean(self, column: str) -> float:
        values = [_COLUMNS[column](e) for e in self.episodes]
        return math.fsum(values) / len(values) if values else math.nan

    def std(self, column: str) -> float:
        m = self.mean(column)
        values = [(_COLUMNS[column](e) - m) ** 2 for e in self.episodes]
        return math.sqrt(math.fsum(values) / len(values)) if values else math.nan

    def unreported(self) -> list[str]:
        """The info keys the env did not report in every step of every episode (their columns are empty)."""
        out = []
        if any(math.isnan(e.basic_return) for e in self.episodes):
            out.append("basic_reward")
        if any(math.isnan(e.addon_return) for e in self.episodes):
            out.append("addon_reward")
        return out

    def cell(self, column: str) -> str:
        """``mean ± std`` with one decimal as Java formats it; "not reported" for a NaN mean."""
        m = self.mean(column)
        return "not reported" if math.isnan(m) else f"{java_1f(m)} ± {java_1f(self.std(column))}"

    def markdown_row(self, name: str) -> str:
        """``| name | basic | add-on | length |`` as Java's ``Summary.markdownRow``."""
        return f"| {name} | {self.cell('basic_return')} | {self.cell('addon_return')} | {self.cell('length')} |"

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": {
                c: {"mean": _finite_or_none(self.mean(c)), "std": _finite_or_none(self.std(c))} for c in _COLUMNS
            },
            "unreported": self.unreported(),
            "episodes": [e.to_dict() for e in self.episodes],
        }


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate_policy` measured: both policies' episodes on the same seeds, and the KL between them."""

    policy_dir: Path
    env_id: str
    env_source: str  # where the env id came from (the argument, the built-in task, the run's eval_env_id / env_id)
    addon: str | None  # the add-on applied over the env (TaskReward), None: the env reports both parts or none
    addon_source: str  # why that add-on, or why none
    env_kwargs: dict[str, Any]
    imports: tuple[str, ...]
    seeds: tuple[int, ...]
    distribution: str  # the customized policy's
    prior_distribution: str
    prior: Summary
    customized: Summary
    kl: float | None  # mean per step of KL(customized || prior) on the customized policy's states
    kl_prior_states: float | None  # the same on the prior's states
    kl_reason: str | None  # why kl is None (different families), else None
    video: Path | None = None
    video_seed: int | None = None

    def markdown(self) -> str:
        """The table: header, ``prior alone`` and ``customized`` rows; a note when the env reported no parts."""
        lines = [TABLE_HEADER, self.prior.markdown_row(PRIOR_ROW), self.customized.markdown_row(CUSTOMIZED_ROW)]
        missing = sorted(set(self.prior.unreported()) | set(self.customized.unreported()))
        if missing:
            lines.append("")
            lines.append(
                f"The env reported no {' / '.join(missing)} in info: those columns are empty. Its own return: prior "
                f"{java_1f(self.prior.mean('env_return'))} ± {java_1f(self.prior.std('env_return'))}, "
                f"{CUSTOMIZED_ROW} {java_1f(self.customized.mean('env_return'))} ± "
                f"{java_1f(self.customized.std('env_return'))}. (Give an add-on to have both parts reported.)"
            )
        return "\n".join(lines) + "\n"

    def kl_line(self) -> str:
        """One line: the KL and the env / add-on the episodes ran on."""
        if self.kl is None:
            kl = f"KL(customized || prior): none ({self.kl_reason})"
        else:
            kl = f"KL(customized || prior): {self.kl:.6g} per step on the customized policy's states" + (
                f", {self.kl_prior_states:.6g} on the prior's" if self.kl_prior_states is not None else ""
            )
        addon = f"add-on {self.addon} ({self.addon_source})" if self.addon else f"no add-on ({self.addon_source})"
        return (
            f"{kl}; env {self.env_id} ({self.env_source}), {addon}; {len(self.seeds)} episodes, seeds "
            f"{self.seeds[0]}..{self.seeds[-1]}, deterministic"
        )

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (non-finite numbers as null)."""
        return {
            "format": EVALUATION_FORMAT,
            "policy_dir": str(self.policy_dir),
            "env_id": self.env_id,
            "env_source": self.env_source,
            "addon": self.addon,
            "addon_source": self.addon_source,
            "env_kwargs": self.env_kwargs,
            "imports": list(self.imports),
            "seeds": list(self.seeds),
            "deterministic": True,
            "distribution": {"customized": self.distribution, "prior": self.prior_distribution},
            "prior": self.prior.to_dict(),
            "customized": self.customized.to_dict(),
            "kl": {
                "direction": "KL(customized || prior)",
                "customized_states": None if self.kl is None else _finite_or_none(self.kl),
                "prior_states": None if self.kl_prior_states is None else _finite_or_none(self.kl_prior_states),
                "customized_steps": sum(e.length for e in self.customized.episodes),
                "prior_steps": sum(e.length for e in self.prior.episodes),
                "reason": self.kl_reason,
            },
            "video": None if self.video is None else {"file": str(self.video), "seed": self.video_seed},
            "markdown": self.markdown(),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text (strict JSON: no NaN)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False) + "\n"


def java_1f(x: float) -> str:
    """``String.format(Locale.ROOT, "%.1f", x)`` of Java: the shortest decimal of x rounded half up (Python's
    ``f"{x:.1f}"`` rounds the binary value half to even: 132.45 -> 132.4 where Java writes 132.5)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return format(Decimal(repr(float(x))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP), "f")


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


# ---------------------------------------------------------------------------------------------
# KL
# ---------------------------------------------------------------------------------------------


def kl_family_mismatch(customized: ExportedPolicy, prior: ExportedPolicy) -> str | None:
    """Why KL(customized || prior) has no closed form here (None when it has)."""
    a, b = customized.distribution, prior.distribution
    if a != b:
        return f"the customized policy is {a} and the prior {b}: different families of distributions"
    if customized.package.action_dim != prior.package.action_dim:
        return (
            f"the customized policy has {customized.package.action_dim} action dimensions / actions and the prior "
            f"{prior.package.action_dim}"
        )
    return None


@torch.no_grad()
def kl_divergence(customized: ExportedPolicy, prior: ExportedPolicy, obs: Tensor) -> np.ndarray:
    """float64 ``[B]``: KL(customized(.|s) || prior(.|s)) for each row of a float32 ``[B, obs_dim]`` batch.

    Categorical: ``sum_a p(a) (log p(a) - log q(a))`` from the log-probabilities taken in float64 and
    renormalized; Gaussians: the diagonal Gaussians' closed form on ``(mean, log_std)`` (pre-tanh for
    ``squashed_gaussian``: the same KL). A ValueError when the families differ.
    """
    reason = kl_family_mismatch(customized, prior)
    if reason is not None:
        raise ValueError(f"no KL: {reason}")
    if obs.shape[0] == 0:
        return np.zeros(0, np.float64)
    out_c = customized.package.forward(obs)
    out_p = prior.package.forward(obs)
    if customized.distribution == "categorical":
        lp = torch.log_softmax(out_c[0].to(torch.float64), dim=1)
        lq = torch.log_softmax(out_p[0].to(torch.float64), dim=1)
        terms = torch.exp(lp) * (lp - lq)
        terms = torch.where(torch.isneginf(lp), torch.zeros_like(terms), terms)  # 0 log 0 = 0
        return terms.sum(dim=1).numpy()
    m1, s1 = (t.to(torch.float64) for t in out_c)
    m2, s2 = (t.to(torch.float64) for t in out_p)
    # KL(N(m1, e^{2 s1}) || N(m2, e^{2 s2})) per dimension, summed
    per_dim = s2 - s1 + (torch.exp(2 * s1) + (m1 - m2) ** 2) / (2 * torch.exp(2 * s2)) - 0.5
    return per_dim.sum(dim=1).numpy()


def _kl_rows(customized: ExportedPolicy, prior: ExportedPolicy, states: Sequence[Tensor]) -> np.ndarray:
    if not states:
        return np.zeros(0, np.float64)
    obs = torch.cat(list(states), dim=0)
    return np.concatenate([kl_divergence(customized, prior, obs[i : i + _KL_CHUNK])
                           for i in range(0, obs.shape[0], _KL_CHUNK)])  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The exported folder, the env
# ---------------------------------------------------------------------------------------------


def _read_export(policy_dir: Path) -> dict[str, Any]:
    """The ``customized`` block of an exported folder's prior.json; a ValueError saying what to do otherwise."""
    do = (
        "export the run first (`rql4j export RUN --out DIR`, or `rql4j-bridge export-policy RUN --out DIR`) and "
        "evaluate DIR"
    )
    if not policy_dir.exists():
        raise FileNotFoundError(f"{policy_dir} does not exist: {do}")
    if not policy_dir.is_dir():
        raise ValueError(f"{policy_dir} is not a folder: {do}")
    sidecar_file = policy_dir / SIDE_CAR
    if not sidecar_file.is_file():
        raise ValueError(f"{policy_dir} is not an exported customized policy (it has no {SIDE_CAR}): {do}")
    try:
        sidecar = json.loads(sidecar_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{sidecar_file} is not valid JSON ({e}): {do}") from None
    customized = sidecar.get("customized") if isinstance(sidecar, dict) else None
    if not isinstance(customized, dict):
        raise ValueError(
            f"{policy_dir} is not an exported customized policy ({SIDE_CAR} has no 'customized' block: a prior "
            f"package of its own, not a customization of one): {do}"
        )
    prior = customized.get("prior")
    folder = prior.get("folder") if isinstance(prior, dict) else None
    if not isinstance(folder, str) or not (policy_dir / folder / SIDE_CAR).is_file():
        raise ValueError(
            f"{policy_dir} holds no copy of the prior it was customized from (no prior/ folder: its policy was "
            "saved without a prior, e.g. w = 0, or the prior was not found at export), so there is nothing to "
            "compare it with: export the run again with its prior (`rql4j export RUN --out DIR`; "
            "`rql4j-bridge export-policy RUN --out DIR --prior PRIOR_DIR` when the prior moved)"
        )
    return customized


@dataclass(frozen=True)
class _EnvChoice:
    env_id: str
    env_source: str
    addon: str | None  # the add-on to apply over the env, before knowing whether it reports both parts
    addon_source: str
    addon_given: bool  # by the caller (applied whatever the env), not from the run


def _choose_env(run: Mapping[str, Any] | None, env_id: str | None, addon: str | None, policy_dir: Path) -> _EnvChoice:
    from rql4j_bridge.tasks import TASKS
    from rql4j_bridge.tasks import env_id as task_env_id

    run = run or {}
    recorded_addon = run.get("addon") if isinstance(run.get("addon"), str) else None
    # total: the env is a built-in task's total variant, which reports both parts
    if env_id:
        chosen, source, total = env_id, "given", False
    elif isinstance(run.get("env_id"), str):
        eval_id = run.get("eval_env_id")
        if isinstance(eval_id, str):
            # as Java's Task.evalEnv: the run's add-on goes over its eval env too (unless it reports both parts)
            chosen, source, total = eval_id, "the run's eval_env_id", False
        else:
            chosen, source, total = run["env_id"], "the run's env_id", False
    elif isinstance(run.get("task"), str):
        task = run["task"]
        if task not in TASKS:
            raise ValueError(
                f"{policy_dir}: the run records task {task!r}, which is not a built-in task ({', '.join(TASKS)}), "
                "and no env id: give the env to evaluate on (env_id=..., --env-id ID)"
            )
        chosen, source, total = task_env_id(task, "total"), f"built-in task {task}", True
    else:
        raise ValueError(
            f"{policy_dir}: the export records no run (no task or env id; it was exported from a policy folder "
            "outside its run): give the env to evaluate on (env_id=..., --env-id ID)"
        )
    if addon:
        return _EnvChoice(chosen, source, addon, "given", True)
    if recorded_addon is None:
        why = "the env reports both parts itself" if total else "none given and none recorded by the run"
        return _EnvChoice(chosen, source, None, why, False)
    if total:
        why = "the env reports both parts itself; the run's add-on " + recorded_addon + " is not applied again"
        return _EnvChoice(chosen, source, None, why, False)
    return _EnvChoice(chosen, source, recorded_addon, "the run's add-on", False)


def _import_all(modules: Iterable[str]) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as e:
            raise ValueError(
                f"import {module} failed ({type(e).__name__}: {e}); modules are found on the Python path (the "
                "working directory of the command line and PYTHONPATH)"
            ) from e


def _reports_both(env: gymnasium.Env) -> bool:
    """Whether the env is (over wrappers) a TaskReward: it reports info["basic_reward"] and ["addon_reward"]."""
    from rql4j_bridge.tasks.core import TaskReward

    e: Any = env
    while True:
        if isinstance(e, TaskReward):
            return True
        if not isinstance(e, gymnasium.Wrapper):
            return False
        e = e.env


def _make(env_id: str, kwargs: Mapping[str, Any]) -> gymnasium.Env:
    name = env_id.split(":", 1)[-1]
    if ":" not in env_id and name not in gymnasium.registry and importlib.util.find_spec("highway_env") is not None:
        importlib.import_module("highway_env")  # as the env server does: its ids (highway-v0, ...) by name
    try:
        return gymnasium.make(env_id, **kwargs)
    except (gymnasium.error.NameNotFound, gymnasium.error.NamespaceNotFound, gymnasium.error.VersionNotFound,
            gymnasium.error.UnregisteredEnv, gymnasium.error.DeprecatedEnv) as e:  # fmt: skip
        raise ValueError(
            f"unknown Gymnasium env id {env_id!r} ({e}): import the module that registers it first "
            "(imports=[...], --import MODULE)"
        ) from None


class _EnvFactory:
    """Makes the evaluation env (the add-on over it when it applies) and, for the video, a rendering copy."""

    def __init__(self, choice: _EnvChoice, env_kwargs: Mapping[str, Any]) -> None:
        self.choice = choice
        self.kwargs = dict(env_kwargs)
        probe = _make(choice.env_id, self.kwargs)
        try:
            reports = _reports_both(probe)
        finally:
            probe.close()
        self.addon = choice.addon
        self.addon_source = choice.addon_source
        if choice.addon is None and reports:
            self.addon_source = f"{choice.env_id} reports both parts itself"
        if choice.addon is not None and reports and not choice.addon_given:
            self.addon = None
            self.addon_source = (
                f"{choice.env_id} reports both parts itself; the run's add-on {choice.addon} is not applied again"
            )
        if self.addon is not None:
            from rql4j_bridge.tasks.core import resolve, takes_env

            takes_env(resolve(self.addon, "the add-on"), "the add-on")  # a bad one is refused now

    def make(self) -> gymnasium.Env:
        env = _make(self.choice.env_id, self.kwargs)
        if self.addon is None:
            return env
        from rql4j_bridge.tasks.core import TaskReward

        return TaskReward(env, self.addon, "total")

    def make_rendering(self) -> gymnasium.Env:
        """The env with ``render_mode="rgb_array"``; a ValueError naming it when it cannot render so."""
        env_id = self.choice.env_id
        try:
            env = _make(env_id, {**self.kwargs, "render_mode": "rgb_array"})
        except ValueError:
            raise
        except Exception as e:
            raise ValueError(
                f"the env {env_id} cannot be made with render_mode='rgb_array' for the video ({type(e).__name__}: "
                f"{e}); evaluate without a video"
            ) from e
        modes = env.metadata.get("render_modes") or []
        if env.render_mode != "rgb_array" or "rgb_array" not in modes:
            env.close()
            raise ValueError(
                f"the env {env_id} cannot render rgb_array frames for the video (its render modes: "
                f"{', '.join(map(str, modes)) or 'none'}); evaluate without a video"
            )
        return env


# ---------------------------------------------------------------------------------------------
# Episodes
# ---------------------------------------------------------------------------------------------


def _episode(env: gymnasium.Env, policy: ExportedPolicy, seed: int, states: list[Tensor]) -> Episode:
    """One episode as Java's Evaluator runs it; appends the observations acted on (float32 [1, obs_dim]) to
    ``states``."""
    obs, _ = env.reset(seed=seed)
    basic = addon = total = 0.0
    length = 0
    while True:
        states.append(policy.observations(obs)[0])
        action, _ = policy.predict(obs, deterministic=True)
        obs, reward, terminated, truncated, info = env.step(action)
        basic += float(info.get("basic_reward", math.nan))
        addon += float(info.get("addon_reward", math.nan))
        total += float(reward)
        length += 1
        if terminated or truncated:
            return Episode(seed, basic, addon, total, length, bool(terminated))


def _run(
    factory: _EnvFactory,
    policy: ExportedPolicy,
    seed_list: Sequence[int],
    kl: Callable[[Sequence[Tensor]], np.ndarray] | None,
) -> tuple[Summary, np.ndarray | None]:
    env = factory.make()
    episodes: list[Episode] = []
    rows: list[np.ndarray] = []
    try:
        for seed in seed_list:
            states: list[Tensor] = []
            e = _episode(env, policy, seed, states)
            if kl is not None:
                r = kl(states)
                rows.append(r)
                e = Episode(e.seed, e.basic_return, e.addon_return, e.env_return, e.length, e.terminated,
                            float(math.fsum(r.tolist()) / len(r)))  # fmt: skip
            episodes.append(e)
    finally:
        env.close()
    return Summary(tuple(episodes)), (np.concatenate(rows) if kl is not None else None)


def _mean(rows: np.ndarray | None) -> float | None:
    if rows is None or rows.size == 0:
        return None
    return math.fsum(rows.tolist()) / rows.size


# ---------------------------------------------------------------------------------------------
# Video
# ---------------------------------------------------------------------------------------------


def _check_video(video: str | os.PathLike[str]) -> Path:
    """The video path, checked before any work: its extension, that it does not exist, the packages it needs."""
    path = Path(video)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_EXTENSIONS:
        raise ValueError(f"video {path}: the file must end in .gif or .mp4, got {path.suffix or 'no extension'!r}")
    if path.exists() or path.is_symlink():
        raise FileExistsError(
            f"video {path} already exists: a video is never overwritten; remove it or choose another file"
        )
    needs = ["imageio", "PIL"] if suffix == ".gif" else ["imageio", "imageio_ffmpeg"]
    names = {"imageio": "imageio", "PIL": "pillow", "imageio_ffmpeg": "imageio-ffmpeg"}
    missing = [names[m] for m in needs if importlib.util.find_spec(m) is None]
    if missing:
        what = "a GIF" if suffix == ".gif" else "an MP4"
        raise ImportError(f"writing {what} video needs {' and '.join(missing)}, which is not installed: {VIDEO_PIP}")
    return path


class _VideoWriter:
    """Frames into a temporary file next to ``path``, renamed to ``path`` at the end (never over an existing file)."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.parent / f".{path.stem}.{secrets.token_hex(6)}.video-tmp{path.suffix.lower()}"
        self.gif = path.suffix.lower() == ".gif"
        self.frames = 0
        if self.gif:
            import imageio.v3 as iio

            self.duration_ms = max(10, int(round(1000.0 / fps)))
            self._writer: Any = iio.imopen(self.tmp, "w", plugin="pillow", extension=".gif")
        else:
            import imageio.v2 as iio2

            # even sizes (yuv420p), no resizing: the frames are padded to even sizes instead
            self._writer = iio2.get_writer(
                self.tmp, format="FFMPEG", mode="I", fps=fps, macro_block_size=2, ffmpeg_log_level="error"
            )

    def write(self, frame: np.ndarray) -> None:
        if self.gif:
            # bits=8: each frame quantized to a palette as it comes (the GIF holds paletted frames until closed)
            self._writer.write(frame, is_batch=False, duration=self.duration_ms, loop=0, bits=8)
        else:
            h, w = frame.shape[:2]
            if h % 2 or w % 2:
                frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            self._writer.append_data(frame)
        self.frames += 1

    def finish(self) -> Path:
        self._writer.close()
        try:
            os.link(self.tmp, self.path)  # fails if the path appeared meanwhile: nothing is overwritten
        except FileExistsError:
            raise FileExistsError(
                f"video {self.path} appeared while the video was being written; it is kept, the new video is not "
                "written"
            ) from None
        except OSError:  # no hard links on this file system
            if self.path.exists():
                raise FileExistsError(f"video {self.path} appeared while the video was being written") from None
            os.replace(self.tmp, self.path)
        finally:
            self.tmp.unlink(missing_ok=True)
        return self.path

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # the error that stopped the video is the one to report
            self._writer.close()
        self.tmp.unlink(missing_ok=True)


def _rgb(frame: Any, env_id: str) -> np.ndarray:
    x = np.asarray(frame)
    if x.ndim != 3 or x.shape[2] not in (3, 4):
        raise ValueError(f"the env {env_id} rendered {type(frame).__name__} of shape {list(x.shape)}, not an RGB frame")
    if x.dtype != np.uint8:
        x = np.clip(x, 0, 255).astype(np.uint8)
    return x[:, :, :3]


def _side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    h = max(left.shape[0], right.shape[0])
    pad = [np.pad(f, ((0, h - f.shape[0]), (0, 0), (0, 0))) if f.shape[0] < h else f for f in (left, right)]
    return np.concatenate(pad, axis=1)


def _write_video(
    factory: _EnvFactory, prior: ExportedPolicy, customized: ExportedPolicy, seed: int, path: Path
) -> Path:
    """One episode of each, in lockstep: the prior left, the customized policy right; a finished episode's last
    frame stays until the other ends."""
    env_id = factory.choice.env_id
    envs = [factory.make_rendering(), factory.make_rendering()]
    policies = [prior, customized]
    fps = float(envs[0].metadata.get("render_fps") or 30)
    writer: _VideoWriter | None = None
    try:
        obs = [env.reset(seed=seed)[0] for env in envs]
        frames = [_rgb(env.render(), env_id) for env in envs]
        done = [False, False]
        writer = _VideoWriter(path, fps)
        writer.write(_side_by_side(*frames))
        while not all(done):
            for i in (0, 1):
                if done[i]:
                    continue
                action, _ = policies[i].predict(obs[i], deterministic=True)
                obs[i], _, terminated, truncated, _ = envs[i].step(action)
                frames[i] = _rgb(envs[i].render(), env_id)
                done[i] = bool(terminated or truncated)
            writer.write(_side_by_side(*frames))
        return writer.finish()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        for env in envs:
            env.close()


def _check_rendering(factory: _EnvFactory, seed: int) -> None:
    env = factory.make_rendering()
    try:
        env.reset(seed=seed)
        _rgb(env.render(), factory.choice.env_id)
    finally:
        env.close()


# ---------------------------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------------------------


def evaluate_policy(
    policy_dir: str | os.PathLike[str],
    env_id: str | None = None,
    *,
    episodes: int = 20,
    addon: str | None = None,
    imports: Sequence[str] = (),
    video: str | os.PathLike[str] | None = None,
    video_seed: int | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
) -> Evaluation:
    """Runs the prior alone and the customized policy of an exported folder on the same seeds; see the module doc.

    Args:
        policy_dir: a folder ``rql4j export`` / ``export_policy`` wrote (with its ``prior/`` copy).
        env_id: the Gymnasium id to evaluate on; default: the run's evaluation env (a built-in task's
            ``-total-v0``, else the run's ``eval_env_id``, else its ``env_id``).
        episodes: one per seed, seeds 10000, 10001, ...
        addon: ``"module:function"`` applied over the env (TaskReward, total variant); default: the run's
            add-on, unless the env reports both parts itself.
        imports: modules imported first (to register env ids), after those the run recorded.
        video: a ``.gif`` or ``.mp4`` file to write (never over an existing one): one episode of each side by side.
        video_seed: that episode's seed (default: the first seed).
        env_kwargs: keyword arguments of ``gymnasium.make`` (e.g. ``{"max_episode_steps": 200}``).

    Raises:
        ValueError: not an exported customized policy, an unknown env id, an import that fails, an env that
            cannot render the video (before any episode runs).
        FileNotFoundError: no such folder. FileExistsError: the video file exists.
        ImportError: the video needs imageio / pillow / imageio-ffmpeg (``pip install 'rql4j-bridge[video]'``).
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be an integer >= 1, got {episodes!r}")
    folder = Path(policy_dir)
    customized_block = _read_export(folder)
    video_path = None if video is None else _check_video(video)  # first: the file, the packages
    run = customized_block.get("run") if isinstance(customized_block.get("run"), dict) else None
    # the run's modules register its env and hold its add-on: needed unless the caller gives both (a folder
    # copied to where those modules are not must still evaluate on an env and add-on of the caller's)
    recorded = [] if env_id and addon else [m for m in (run or {}).get("imports") or [] if isinstance(m, str)]
    all_imports = tuple(dict.fromkeys([*recorded, *imports]))
    _import_all(["rql4j_bridge.tasks", *all_imports])
    choice = _choose_env(run, env_id, addon, folder)
    factory = _EnvFactory(choice, env_kwargs or {})
    seed_list = seeds(episodes)
    if video_path is not None:
        video_seed = seed_list[0] if video_seed is None else int(video_seed)
        _check_rendering(factory, video_seed)

    customized = load_policy(folder, seed=0)
    prior = load_policy(folder / customized_block["prior"]["folder"], seed=0)
    reason = kl_family_mismatch(customized, prior)

    def kl(states: Sequence[Tensor]) -> np.ndarray:
        return _kl_rows(customized, prior, states)

    prior_summary, prior_rows = _run(factory, prior, seed_list, None if reason else kl)
    custom_summary, custom_rows = _run(factory, customized, seed_list, None if reason else kl)
    if video_path is not None and video_seed is not None:
        _write_video(factory, prior, customized, video_seed, video_path)
    return Evaluation(
        policy_dir=folder,
        env_id=choice.env_id,
        env_source=choice.env_source,
        addon=factory.addon,
        addon_source=factory.addon_source,
        env_kwargs=dict(env_kwargs or {}),
        imports=all_imports,
        seeds=tuple(seed_list),
        distribution=customized.distribution,
        prior_distribution=prior.distribution,
        prior=prior_summary,
        customized=custom_summary,
        kl=_mean(custom_rows),
        kl_prior_states=_mean(prior_rows),
        kl_reason=reason,
        video=video_path,
        video_seed=video_seed if video_path is not None else None,
    )
