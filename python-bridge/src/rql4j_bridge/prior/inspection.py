"""``inspect_prior``: a check of a prior package against an env before customizing it (in the manner of SB3's
``check_env``).

It answers, before any training, the questions whose answers otherwise show up as a failed or a
stuck customization:

- **Do the prior and the env fit?** The prior's observation and action spaces (from its
  ``prior.json``) against the env's, with Java's rule (``PriorSpec.checkCompatible``): the same
  Discrete action space, or a Box of the same shape; an observation space of the prior's input
  width. What Java would refuse fails here too; smaller differences (other Box bounds, another
  observation shape of the same width) are warnings.
- **Does the env run, and does the add-on?** The prior is rolled on the env for ``episodes``
  episodes, sampling from its distribution (seeds ``seed, seed + 1, ...``, at most ``max_steps``
  steps in all), and then, deterministic as Java's evaluator runs it, on the seeds 10000, 10001, ...
  (the "prior alone" row of ``rql4j customize``). The add-on reward, when given, is called after
  every step of both and must return a finite real number: the first value that is not one is
  named with its step and the add-on.
- **How sure is the prior?** On the states its sampled episodes visit: its entropy per step (mean,
  min, 10th percentile; categorical: exact, in nats; Gaussians: the pre-tanh Gaussian's entropy per
  action dimension, ``0.5 log(2 pi e) + log_std`` averaged over the dimensions) and the spread of
  its log-probabilities (Discrete: the mean gap between the log-probabilities of its most and least
  likely actions, and its mean largest probability; Box: its mean pre-tanh std per dimension).

A prior is reported nearly deterministic when it is sure on more than half of the states it visits
(:data:`SURE_SHARE_WARNING`): sure meaning a largest probability above :data:`SURE_PROBABILITY`
(0.99; Discrete) or a (pre-tanh) std below :data:`SURE_STD` (0.1) in some action dimension (Box).
A share rather than a mean: a behaviour-cloned prior is sure almost everywhere but near its decision
boundary, where it is not sure at all, and a mean of the largest probability mixes the two (the
shipped cartpole-center-bc: sure on 80% of its states, mean largest probability 0.97). Residual
learners weigh the prior through
``w log pi(a|s)``, which for such a prior is hugely negative for every action but its favourite:
the customization can hardly move it unless ``w`` is small (or a KL budget sets the scale), and
residual SAC's rewards become hundreds of nats (docs/tuning.md). Warnings do not fail.

Failures raise :class:`PriorInspectionError` (a ValueError) with one line naming the input and what
to do; a missing package raises FileNotFoundError, a malformed one PriorPackageError.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces

from rql4j_bridge.prior.package import PriorOutputError, PriorPackage, load_prior_package
from rql4j_bridge.prior.spaces_json import flat_dim

__all__ = [
    "INSPECTION_FORMAT",
    "SURE_PROBABILITY",
    "SURE_SHARE_WARNING",
    "SURE_STD",
    "EpisodeReturn",
    "PriorInspection",
    "PriorInspectionError",
    "inspect_prior",
]

INSPECTION_FORMAT = "rql4j-prior-inspection/1"
SURE_PROBABILITY = 0.99  # Discrete: a state where the largest probability is above it is a sure one
SURE_STD = 0.1  # Box: a state where the (pre-tanh) std of some action dimension is below it is a sure one
SURE_SHARE_WARNING = 0.5  # sure on more than this share of its states: nearly deterministic, a warning
FIRST_EVAL_SEED = 10_000  # Java's Evaluator.defaultSeeds: the "prior alone" row's seeds
_HALF_LOG_2PI_E = 0.5 * math.log(2.0 * math.pi * math.e)


class PriorInspectionError(ValueError):
    """A prior that does not fit its env, an env or add-on that fails, a bad argument: one line saying what to do."""


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpisodeReturn:
    """One episode of the prior: its seed, basic and add-on return (NaN: not reported), the env's own return, its
    length, whether it ended."""

    seed: int
    basic_return: float  # the sum of info["basic_reward"], or of the env's rewards when it reports none
    addon_return: float  # the sum of the add-on's values, or of info["addon_reward"]; NaN: neither
    env_return: float
    length: int
    terminated: bool
    finished: bool  # False: cut off by max_steps before the env ended it

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "basic_return": _finite_or_none(self.basic_return),
            "addon_return": _finite_or_none(self.addon_return),
            "env_return": _finite_or_none(self.env_return),
            "length": self.length,
            "terminated": self.terminated,
            "finished": self.finished,
        }


@dataclass(frozen=True)
class PriorInspection:
    """What :func:`inspect_prior` found (the module doc says how each number is measured)."""

    prior_dir: Path
    prior_name: str
    env_id: str
    addon: str | None  # the add-on called after each step (None: none given)
    imports: tuple[str, ...]
    distribution: str
    observation_space: str  # the env's, as gymnasium prints it
    action_space: str
    prior_observation_space: str
    prior_action_space: str
    observation_spaces_equal: bool  # the prior's and the env's spaces are the same (not only compatible)
    action_spaces_equal: bool
    steps: int  # sampled steps the statistics are taken on
    entropy_mean: float  # nats per step (Gaussians: per action dimension, pre-tanh)
    entropy_min: float
    entropy_p10: float
    max_entropy: float | None  # categorical: log(n), the uniform policy's; None for Gaussians
    mean_max_probability: float | None  # categorical
    mean_log_prob_gap: float | None  # categorical: mean of (max - min) log-probability over the actions
    mean_std: tuple[float, ...] | None  # Gaussians: mean pre-tanh std per action dimension
    sure_share: float  # share of the sampled states where the prior is sure (SURE_PROBABILITY / SURE_STD)
    nearly_deterministic: bool  # sure_share > SURE_SHARE_WARNING
    sampled: tuple[EpisodeReturn, ...]  # the sampled episodes (seeds seed, seed + 1, ...)
    deterministic: tuple[EpisodeReturn, ...]  # the "prior alone" row's episodes (seeds 10000, ...)
    warnings: tuple[str, ...] = field(default=())

    @property
    def spaces_match(self) -> bool:
        """Both spaces are the env's own (a compatible but different space is a warning)."""
        return self.observation_spaces_equal and self.action_spaces_equal

    def summary(self, which: str = "deterministic") -> dict[str, dict[str, float | None]]:
        """Mean and population std of the basic / add-on return and length over the finished episodes."""
        rows = [e for e in (self.deterministic if which == "deterministic" else self.sampled) if e.finished]
        out: dict[str, dict[str, float | None]] = {}
        for name, get in (("basic_return", lambda e: e.basic_return), ("addon_return", lambda e: e.addon_return),
                          ("length", lambda e: float(e.length))):  # fmt: skip
            values = [get(e) for e in rows]
            if not values:
                out[name] = {"mean": None, "std": None}
                continue
            m = math.fsum(values) / len(values)
            s = math.sqrt(math.fsum((v - m) ** 2 for v in values) / len(values))
            out[name] = {"mean": _finite_or_none(m), "std": _finite_or_none(s)}
        return out

    def text(self) -> str:
        """The report for a terminal: the spaces, how sure the prior is, its returns, the warnings."""
        spaces_line = f"  spaces: observation {self.observation_space}"
        if not self.observation_spaces_equal:
            spaces_line += f" (the prior's: {self.prior_observation_space})"
        spaces_line += f", action {self.action_space}"
        if not self.action_spaces_equal:
            spaces_line += f" (the prior's: {self.prior_action_space})"
        spaces_line += ": the prior's own" if self.spaces_match else ": compatible"
        lines = [
            f"prior {self.prior_name!r} ({self.distribution}, {self.prior_dir}) on {self.env_id}"
            + (f" + add-on {self.addon}" if self.addon else ""),
            spaces_line,
        ]
        if self.max_entropy is not None:
            unit = f"nats (uniform: {self.max_entropy:.4g})"
        else:
            unit = "nats per action dimension" + (", pre-tanh" if self.distribution == "squashed_gaussian" else "")
        lines.append(
            f"  entropy on its own states ({self.steps} sampled steps): mean {self.entropy_mean:.4g}, min "
            f"{self.entropy_min:.4g}, 10th percentile {self.entropy_p10:.4g} {unit}"
        )
        if self.mean_max_probability is not None and self.mean_log_prob_gap is not None:
            spread = (
                f"mean largest probability {self.mean_max_probability:.4f}, mean log-probability gap between the "
                f"most and least likely action {self.mean_log_prob_gap:.4g} nats; above {SURE_PROBABILITY} on "
            )
        else:
            pre = "pre-tanh " if self.distribution == "squashed_gaussian" else ""
            spread = (
                f"mean {pre}std per dimension {', '.join(f'{x:.4g}' for x in self.mean_std or ())}; below {SURE_STD} "
                "on "
            )
        lines.append(f"  spread: {spread}{self.sure_share:.0%} of its states")
        for rows, label in ((self.deterministic, "prior alone (deterministic, seeds 10000..)"),
                            (self.sampled, f"sampled (seeds {self.sampled[0].seed if self.sampled else 0}..)")):
            finished = [e for e in rows if e.finished]
            if not finished:
                lines.append(f"  {label}: no episode ended within the step limit")
                continue
            s = self.summary("deterministic" if rows is self.deterministic else "sampled")
            lines.append(
                f"  {label}: basic return {_cell(s['basic_return'])}, add-on return {_cell(s['addon_return'])}, "
                f"length {_cell(s['length'])} ({len(finished)} episode{'s' if len(finished) != 1 else ''})"
            )
        lines.extend(f"warning: {w}" for w in self.warnings)
        if not self.warnings:
            lines.append("no warnings")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (non-finite numbers as null)."""
        return {
            "format": INSPECTION_FORMAT,
            "prior_dir": str(self.prior_dir),
            "prior_name": self.prior_name,
            "env_id": self.env_id,
            "addon": self.addon,
            "imports": list(self.imports),
            "distribution": self.distribution,
            "spaces": {
                "match": self.spaces_match,
                "observation_equal": self.observation_spaces_equal,
                "action_equal": self.action_spaces_equal,
                "env": {"observation": self.observation_space, "action": self.action_space},
                "prior": {"observation": self.prior_observation_space, "action": self.prior_action_space},
            },
            "steps": self.steps,
            "entropy": {
                "unit": "nats" if self.max_entropy is not None else "nats per action dimension (pre-tanh Gaussian)",
                "mean": _finite_or_none(self.entropy_mean),
                "min": _finite_or_none(self.entropy_min),
                "p10": _finite_or_none(self.entropy_p10),
                "uniform": None if self.max_entropy is None else _finite_or_none(self.max_entropy),
            },
            "spread": {
                "mean_max_probability": None if self.mean_max_probability is None
                else _finite_or_none(self.mean_max_probability),
                "mean_log_prob_gap": None if self.mean_log_prob_gap is None
                else _finite_or_none(self.mean_log_prob_gap),
                "mean_std": None if self.mean_std is None else [_finite_or_none(s) for s in self.mean_std],
            },
            "sure_share": self.sure_share,
            "thresholds": {
                "sure_probability": SURE_PROBABILITY,
                "sure_std": SURE_STD,
                "sure_share": SURE_SHARE_WARNING,
            },
            "nearly_deterministic": self.nearly_deterministic,
            "returns": {
                "deterministic": {"summary": self.summary("deterministic"),
                                  "episodes": [e.to_dict() for e in self.deterministic]},
                "sampled": {"summary": self.summary("sampled"), "episodes": [e.to_dict() for e in self.sampled]},
            },  # fmt: skip
            "warnings": list(self.warnings),
            "text": self.text(),
        }

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`to_dict` as strict JSON (no NaN), one line unless ``indent``."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False) + "\n"


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _cell(stat: dict[str, float | None]) -> str:
    return "not reported" if stat["mean"] is None else f"{stat['mean']:.1f} ± {stat['std'] or 0.0:.1f}"


# ---------------------------------------------------------------------------------------------
# Spaces
# ---------------------------------------------------------------------------------------------


def _check_spaces(package: PriorPackage, env: gymnasium.Env, env_id: str) -> tuple[bool, bool, list[str]]:
    """(observation spaces equal, action spaces equal, warnings); PriorInspectionError where Java would refuse."""
    where = f"prior {package.name!r} ({package.path})"
    warnings: list[str] = []
    p_act, e_act = package.action_space, env.action_space
    if isinstance(p_act, spaces.Box) and isinstance(e_act, spaces.Box):
        if p_act.shape != e_act.shape:
            raise PriorInspectionError(
                f"{where} acts in {p_act} but env {env_id} expects {e_act}: the action shapes differ; inspect (and "
                "customize) a prior trained on this env, or export the prior with the env's action space"
            )
        act_equal = bool(p_act == e_act)
        if not act_equal:
            warnings.append(
                f"the env's action bounds {_bounds(e_act)} differ from the prior's {_bounds(p_act)}: its actions are "
                f"scaled to its own bounds ({(package.sidecar.get('action_scaling') or {}).get('kind', 'none')}); "
                "check that they mean the same on this env"
            )
    else:
        act_equal = bool(p_act == e_act)
        if not act_equal:
            raise PriorInspectionError(
                f"{where} acts in {p_act} but env {env_id} expects {e_act}: inspect (and customize) a prior trained "
                "on this env, or export the prior with the env's action space"
            )
    try:
        width = flat_dim(env.observation_space)
    except Exception as e:
        raise PriorInspectionError(
            f"env {env_id}'s observation space {env.observation_space} cannot be flattened ({e}): rql4j cannot pass "
            "it to a prior"
        ) from None
    if width != package.obs_dim:
        raise PriorInspectionError(
            f"{where} reads observations of width {package.obs_dim} ({package.observation_space}) but env {env_id} "
            f"observes {env.observation_space} (width {width}): the prior was trained on another observation space; "
            "inspect it on the env it was trained on"
        )
    obs_equal = bool(package.observation_space == env.observation_space)
    if not obs_equal:
        warnings.append(
            f"the env's observation space {env.observation_space} is not the prior's {package.observation_space}, "
            f"though both are {width} numbers wide: check that the prior was trained on this observation"
        )
    return obs_equal, act_equal, warnings


def _one_line(space: spaces.Space) -> str:
    return " ".join(str(space).split())


def _bounds(box: spaces.Box) -> str:
    low, high = np.asarray(box.low).ravel().tolist(), np.asarray(box.high).ravel().tolist()
    return f"[{', '.join(f'{x:g}' for x in low)}] .. [{', '.join(f'{x:g}' for x in high)}]"


# ---------------------------------------------------------------------------------------------
# The add-on
# ---------------------------------------------------------------------------------------------


class _Addon:
    """The add-on reward ``MODULE:FUNCTION``, resolved and called as TaskReward calls it, its values checked."""

    def __init__(self, target: str) -> None:
        from rql4j_bridge.tasks.core import resolve, takes_env

        try:
            self.fn = resolve(target, "the add-on")
            self.with_env = takes_env(self.fn, "the add-on")
        except ValueError as e:
            raise PriorInspectionError(str(e)) from None
        self.target = target

    def __call__(self, env: gymnasium.Env, args: tuple[Any, ...], where: str) -> float:
        try:
            value = self.fn(env, *args) if self.with_env else self.fn(*args)
        except Exception as e:
            raise PriorInspectionError(
                f"the add-on {self.target} raised {type(e).__name__}: {e} ({where}); fix the function, then inspect "
                "again"
            ) from e
        number = _real(value)
        if number is None or not math.isfinite(number):
            raise PriorInspectionError(
                f"the add-on {self.target} returned {_show(value)} ({type(value).__name__}) {where}: it must return a "
                "finite real number (a float) after every step"
            )
        return number


def _real(value: Any) -> float | None:
    """``value`` as a float when it is a real number (a Python or NumPy scalar, or a 0-d array); None otherwise."""
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            return None
        value = value[()]
    if isinstance(value, (str, bytes)) or isinstance(value, (complex, np.complexfloating)):
        return None
    if isinstance(value, numbers.Real) or isinstance(value, (np.integer, np.floating, np.bool_)):
        return float(value)
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------------------------------------
# Episodes
# ---------------------------------------------------------------------------------------------


@dataclass
class _Rollout:
    """What the episodes of one pass gave: their returns and, for the sampled pass, the prior's outputs."""

    episodes: list[EpisodeReturn] = field(default_factory=list)
    outputs: list[tuple[torch.Tensor, ...]] = field(default_factory=list)
    steps: int = 0


def _flat(env: gymnasium.Env, obs: Any) -> np.ndarray:
    return np.asarray(spaces.flatten(env.observation_space, obs), np.float32).reshape(1, -1)


def _action(package: PriorPackage, out: tuple[torch.Tensor, ...], sample: bool, gen: torch.Generator) -> Any:
    """One env action from the prior's outputs for one state: sampled, or its mode (argmax / the mean)."""
    if package.is_categorical:
        probs = torch.exp(out[0].to(torch.float64))
        index = int(torch.multinomial(probs, 1, generator=gen)[0, 0]) if sample else int(out[0][0].argmax())
        return index + int(package.action_space.start)  # type: ignore[attr-defined]
    mean, log_std = out
    u = mean + torch.exp(log_std) * torch.randn(mean.shape, generator=gen, dtype=mean.dtype) if sample else mean
    a = torch.tanh(u) if package.distribution == "squashed_gaussian" else u
    return package.to_env_actions(a.numpy())[0]


def _run(
    env: gymnasium.Env,
    env_id: str,
    package: PriorPackage,
    addon: _Addon | None,
    seeds: Sequence[int],
    max_steps: int,
    sample: bool,
    gen: torch.Generator,
) -> _Rollout:
    """Episodes on ``seeds`` until they end or ``max_steps`` steps in all have run."""
    run = _Rollout()
    kind = "sampled" if sample else "deterministic"
    for episode, seed in enumerate(seeds):
        if run.steps >= max_steps:
            break
        try:
            obs, _ = env.reset(seed=seed)
        except Exception as e:
            raise PriorInspectionError(
                f"env {env_id} failed in reset(seed={seed}): {type(e).__name__}: {e}; check that the env runs "
                "(gymnasium.utils.env_checker.check_env)"
            ) from e
        basic = addon_sum = total = 0.0
        length = 0
        while True:
            where = f"at step {length + 1} of {kind} episode {episode + 1} (seed {seed}) on {env_id}"
            try:
                row = _flat(env, obs)
            except Exception as e:
                raise PriorInspectionError(
                    f"env {env_id} returned an observation that does not fit its observation space "
                    f"{_one_line(env.observation_space)} {where.replace('at step', 'before step')} "
                    f"({type(e).__name__}: {e}); check the env"
                ) from e
            if not np.isfinite(row).all():
                raise PriorInspectionError(
                    f"env {env_id} returned an observation holding NaN or infinity "
                    f"{where.replace('at step', 'before step')}: the prior cannot read it; check the env"
                )
            try:
                out = package.forward(row)
            except PriorOutputError as e:
                raise PriorInspectionError(
                    f"prior {package.name!r} cannot act {where}: {e}; the prior is broken on the states this env "
                    "visits: export it again"
                ) from None
            if sample:
                run.outputs.append(out)
            action = _action(package, out, sample, gen)
            try:
                next_obs, reward, terminated, truncated, info = env.step(action)
            except Exception as e:
                raise PriorInspectionError(
                    f"env {env_id} failed {where}: {type(e).__name__}: {e}; check that the env runs with the prior's "
                    f"actions ({package.action_space})"
                ) from e
            run.steps += 1
            length += 1
            total += float(reward)
            basic += float(info["basic_reward"]) if "basic_reward" in info else float(reward)
            if addon is not None:
                addon_sum += addon(env, (obs, action, next_obs, float(reward), terminated, truncated, info), where)
            else:
                addon_sum += float(info.get("addon_reward", math.nan))
            obs = next_obs
            if terminated or truncated or run.steps >= max_steps:
                ended = bool(terminated or truncated)
                run.episodes.append(EpisodeReturn(seed, basic, addon_sum, total, length, bool(terminated), ended))
                break
    return run


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------


def _stats(package: PriorPackage, outputs: Sequence[tuple[torch.Tensor, ...]]) -> dict[str, Any]:
    """Per-step entropy, the spread and the share of sure states, over the sampled steps' outputs (float64)."""
    if package.is_categorical:
        lp = torch.log_softmax(torch.cat([o[0] for o in outputs]).to(torch.float64), dim=1)  # renormalized
        p = torch.exp(lp)
        per_step = -torch.where(p > 0, p * lp, torch.zeros_like(p)).sum(dim=1)  # 0 log 0 = 0
        largest = p.max(dim=1).values
        return {
            "entropy": per_step.numpy(),
            "max_entropy": math.log(lp.shape[1]),
            "mean_max_probability": float(largest.mean()),
            "mean_log_prob_gap": float((lp.max(dim=1).values - lp.min(dim=1).values).mean()),
            "mean_std": None,
            "sure_share": float((largest > SURE_PROBABILITY).to(torch.float64).mean()),
        }
    log_std = torch.cat([o[1] for o in outputs]).to(torch.float64)
    std = torch.exp(log_std)
    return {
        "entropy": (_HALF_LOG_2PI_E + log_std).mean(dim=1).numpy(),  # per action dimension
        "max_entropy": None,
        "mean_max_probability": None,
        "mean_log_prob_gap": None,
        "mean_std": tuple(float(x) for x in std.mean(dim=0)),
        "sure_share": float((std < SURE_STD).any(dim=1).to(torch.float64).mean()),
    }


def _sure_warning(package: PriorPackage, stats: dict[str, Any]) -> str | None:
    """The warning for a nearly deterministic prior (None when it is not one)."""
    share = stats["sure_share"]
    if share <= SURE_SHARE_WARNING:
        return None
    if package.is_categorical:
        what = (
            f"its largest probability is above {SURE_PROBABILITY} on {share:.0%} of its states (mean "
            f"{stats['mean_max_probability']:.4f}; the other actions {stats['mean_log_prob_gap']:.3g} nats less likely "
            "on average)"
        )
        gap = stats["mean_log_prob_gap"]
        advice = (
            f"moving off its action costs about {gap:.3g} nats in a state, so a KL budget of 0.1 nats per step measured "
            f"against it changes about one state in {max(1, round(gap / 0.1))}. The default budget (--kl-budget auto, "
            "and your own task without weights) flattens a prior this sure before it measures the KL (docs/tuning.md); "
            "with weights, use a small --prior-weight (the BC CartPole prior: 0.03)"
        )
    else:
        pre = "pre-tanh " if package.distribution == "squashed_gaussian" else ""
        what = (
            f"its {pre}std is below {SURE_STD} in some action dimension on {share:.0%} of its states (mean std per "
            f"dimension {', '.join(f'{x:.3g}' for x in stats['mean_std'])})"
        )
        advice = "use a small --prior-weight (with --alpha-hat of the same value)"
        if package.distribution == "squashed_gaussian":
            advice += ", and for residual SAC --prior-min-std 0.25 --max-grad-norm 10"
    return (
        f"the prior is nearly deterministic: {what}. w·log pi(a|s) is then hugely negative for every action it does "
        f"not take, so the customization can hardly move it; {advice} (docs/tuning.md)"
    )


# ---------------------------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------------------------


def inspect_prior(
    prior_dir: str | os.PathLike[str],
    env_id: str,
    *,
    addon: str | None = None,
    imports: Sequence[str] = (),
    episodes: int = 3,
    max_steps: int = 2000,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
) -> PriorInspection:
    """Checks a prior package on an env before customizing it; see the module doc for what it measures.

    Args:
        prior_dir: a prior package folder (``prior.json`` + ``policy.pt``), e.g. ``examples/priors/...``, or an
            exported customized policy.
        env_id: the Gymnasium id to customize on (a built-in task's id, or yours after ``imports``).
        addon: the requirement, ``"module:function"`` (called after each step; must return a finite number).
        imports: modules imported first (to register ``env_id``).
        episodes: episodes of each pass (sampled, then deterministic on seeds 10000..).
        max_steps: steps in all per pass; an episode still running then is cut off (its return is not counted).
        seed: the first sampled episode's seed; also seeds the sampling.
        env_kwargs: keyword arguments of ``gymnasium.make``.

    Raises:
        PriorInspectionError: the spaces do not fit, the env or an import fails, the add-on is missing or
            returns something other than a finite number, a bad argument.
        FileNotFoundError: no prior package there. PriorPackageError: a malformed one.
    """
    for name, value, least in (("episodes", episodes, 1), ("max_steps", max_steps, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise PriorInspectionError(f"{name} must be an integer >= {least}, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise PriorInspectionError(f"seed must be an integer >= 0, got {seed!r}")
    from rql4j_bridge.customized.evaluate import _import_all, _make

    package = load_prior_package(prior_dir)
    try:
        _import_all(["rql4j_bridge.tasks", *imports])
    except ValueError as e:
        raise PriorInspectionError(str(e)) from None
    checked_addon = None if addon is None else _Addon(addon)
    try:
        env = _make(env_id, env_kwargs or {})
    except ValueError as e:
        raise PriorInspectionError(str(e)) from None
    except Exception as e:
        raise PriorInspectionError(
            f"env {env_id} cannot be made: {type(e).__name__}: {e}; check its id and keyword arguments"
        ) from e
    try:
        obs_equal, act_equal, warnings = _check_spaces(package, env, env_id)
        gen = torch.Generator().manual_seed(seed)
        sampled = _run(env, env_id, package, checked_addon, [seed + i for i in range(episodes)], max_steps, True, gen)
        det = _run(env, env_id, package, checked_addon, [FIRST_EVAL_SEED + i for i in range(episodes)], max_steps,
                   False, gen)  # fmt: skip
    finally:
        env.close()
    stats = _stats(package, sampled.outputs)
    sure = _sure_warning(package, stats)
    if sure:
        warnings.append(sure)
    for rollout, kind in ((sampled, "sampled"), (det, "deterministic")):
        finished = sum(e.finished for e in rollout.episodes)
        if finished < episodes:
            warnings.append(
                f"only {finished} of {episodes} {kind} episodes ended within {max_steps} steps: the returns are of "
                "those that ended; raise max_steps (--max-steps) for all of them"
            )
    if addon is None and any(math.isnan(e.addon_return) for e in det.episodes):
        warnings.append(
            f"no add-on given and {env_id} reports no info['addon_reward']: give the requirement (--addon "
            "MODULE:FUNCTION) to check it and see the prior's add-on return"
        )
    entropy = stats["entropy"]
    return PriorInspection(
        prior_dir=Path(prior_dir),
        prior_name=package.name,
        env_id=env_id,
        addon=addon,
        imports=tuple(imports),
        distribution=package.distribution,
        observation_space=_one_line(env.observation_space),
        action_space=_one_line(env.action_space),
        prior_observation_space=_one_line(package.observation_space),
        prior_action_space=_one_line(package.action_space),
        observation_spaces_equal=obs_equal,
        action_spaces_equal=act_equal,
        steps=sampled.steps,
        entropy_mean=float(math.fsum(entropy.tolist()) / entropy.size),
        entropy_min=float(entropy.min()),
        entropy_p10=float(np.percentile(entropy, 10)),
        max_entropy=stats["max_entropy"],
        mean_max_probability=stats["mean_max_probability"],
        mean_log_prob_gap=stats["mean_log_prob_gap"],
        mean_std=stats["mean_std"],
        sure_share=stats["sure_share"],
        nearly_deterministic=sure is not None,
        sampled=tuple(sampled.episodes),
        deterministic=tuple(det.episodes),
        warnings=tuple(warnings),
    )
