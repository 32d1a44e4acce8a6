#!/usr/bin/env python3
"""Reference rollout for the rql4j compat tests: steps a Gymnasium vector env in-process.

The Java compat tests replay the same actions through the bridge server and compare the results
byte for byte with what this script writes. It only needs gymnasium and numpy (not rql4j_bridge),
and builds the env exactly as the server does: ``gymnasium.vector.SyncVectorEnv`` over
``gymnasium.make(env_id, **kwargs)`` per copy (``max_episode_steps`` passed to make when > 0),
with the given autoreset mode, then ``reset(seed=SEED)`` (copy i is seeded with SEED + i).

Usage::

    reference_rollout.py --env-id CartPole-v1 --num-envs 4 --autoreset-mode same_step \\
        --seed 7 --actions actions.bin --out rollout.bin [--kwargs-json '{}'] [--max-episode-steps 0]

File format (both files): one line of UTF-8 JSON terminated by ``\\n`` (the header), followed
immediately by raw little-endian C-order array bytes (the payload).

Actions file (input). Header: ``{"dtype": "int64", "shape": [steps, num_envs, *action_shape]}``.
The payload holds prod(shape) elements of dtype. Discrete actions: int64 [steps, num_envs]; Box
actions: the space's dtype (float32 for the classic-control envs) [steps, num_envs, *shape];
MultiDiscrete: int64 or the space's dtype; MultiBinary: int8. Nested (Dict / Tuple) action
spaces are not supported by this format.

Rollout file (output). Header::

    {"format": "rql4j-reference-rollout/1", "env_id": ..., "num_envs": N, "autoreset_mode":
     "same_step", "seed": S, "steps": T, "kwargs": {...}, "max_episode_steps": M,
     "arrays": [{"name": ..., "dtype": ..., "shape": [...], "offset": O, "nbytes": B}, ...]}

``offset`` counts bytes from the start of the payload (the byte after the header's ``\\n``);
arrays are contiguous, in the listed order. dtypes are numpy names (float32, float64, int64,
int8, uint8, bool; bool is one byte, 0 or 1). Observations use the rql4j.v1 wire dtypes:
Discrete as int64, MultiBinary as int8, Box / MultiDiscrete in their own dtype. Arrays:

* ``reset_observation`` [N, *obs]: the observation of the initial seeded reset.
* ``observation`` [T, N, *obs]: StepResponse.observation of each step.
* ``reward`` float64 [T, N], ``terminated`` bool [T, N], ``truncated`` bool [T, N].
* same_step only: ``final_observation`` [T, N, *obs] (the last observation of the episodes that
  ended in that step; zero rows for copies that did not end, as in StepResponse.final_observation;
  the server omits that field when no copy ended, i.e. when ``final_mask`` is all false) and
  ``final_mask`` bool [T, N] (which copies ended = terminated | truncated).
* disabled only: after every step in which some copies ended, the script calls
  ``reset(options={"reset_mask": ended})`` without seeds (the compat test must send
  ResetRequest{reset_mask = ended} with no seeds at the same point). ``reset_mask`` bool [T, N]
  records those masks (all false when no reset followed step t) and
  ``reset_mask_observation`` [T, N, *obs] the batched observation that reset returned (zeros
  when no reset followed step t).

For Dict / Tuple observation spaces every observation array is split into its leaves, named
``<array>/<key>`` for Dict entries and ``<array>/<index>`` for Tuple items (nesting joins with
``/``), e.g. ``observation/achieved``.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import math
import os
import sys
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium  # noqa: E402
import numpy as np  # noqa: E402
from raw_arrays import write_arrays  # noqa: E402  (beside this script)
from gymnasium import spaces  # noqa: E402
from gymnasium.vector import AutoresetMode, SyncVectorEnv  # noqa: E402

FORMAT = "rql4j-reference-rollout/1"
MODES = {"same_step": AutoresetMode.SAME_STEP, "next_step": AutoresetMode.NEXT_STEP, "disabled": AutoresetMode.DISABLED}


def read_array_file(path: str) -> np.ndarray:
    """Reads a header + raw bytes file holding one array (the actions file format)."""
    with open(path, "rb") as f:
        header = json.loads(f.readline().decode("utf-8"))
        payload = f.read()
    dtype = np.dtype(header["dtype"]).newbyteorder("<")
    shape = tuple(int(d) for d in header["shape"])
    if len(payload) != math.prod(shape) * dtype.itemsize:
        raise ValueError(f"{path}: {header} needs {math.prod(shape) * dtype.itemsize} bytes, got {len(payload)}")
    return np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def wire_dtype(space: spaces.Space) -> np.dtype:
    if isinstance(space, spaces.Discrete):
        return np.dtype(np.int64)
    if isinstance(space, spaces.MultiBinary):
        return np.dtype(np.int8)
    return np.dtype(space.dtype)


def leaves(name: str, space: spaces.Space, value: Any) -> Iterator[tuple[str, spaces.Space, Any]]:
    """(name, leaf space, batched leaf value) for every leaf of a possibly nested value."""
    if isinstance(space, spaces.Dict):
        for key, sub in space.spaces.items():
            yield from leaves(f"{name}/{key}", sub, value[key])
    elif isinstance(space, spaces.Tuple):
        for i, sub in enumerate(space.spaces):
            yield from leaves(f"{name}/{i}", sub, value[i])
    else:
        yield name, space, value


def zeros_like_obs(space: spaces.Space, n: int) -> Any:
    if isinstance(space, spaces.Dict):
        return {k: zeros_like_obs(sub, n) for k, sub in space.spaces.items()}
    if isinstance(space, spaces.Tuple):
        return tuple(zeros_like_obs(sub, n) for sub in space.spaces)
    return np.zeros((n, *space.shape), dtype=space.dtype)


def set_row(space: spaces.Space, out: Any, i: int, row: Any) -> None:
    if isinstance(space, spaces.Dict):
        for k, sub in space.spaces.items():
            set_row(sub, out[k], i, row[k])
    elif isinstance(space, spaces.Tuple):
        for j, sub in enumerate(space.spaces):
            set_row(sub, out[j], i, row[j])
    else:
        out[i] = row


class Recorder:
    """Collects per-step batched values of one (possibly nested) space as stacked leaf arrays."""

    def __init__(self, name: str, space: spaces.Space) -> None:
        self.name, self.space = name, space
        self.steps: list[Any] = []

    def add(self, value: Any) -> None:
        self.steps.append(
            {leaf: np.array(v, dtype=wire_dtype(s)) for leaf, s, v in leaves(self.name, self.space, value)}
        )

    def arrays(self, n: int) -> list[tuple[str, np.ndarray]]:
        template = [(leaf, s) for leaf, s, _ in leaves(self.name, self.space, zeros_like_obs(self.space, n))]
        return [
            (
                leaf,
                np.stack([step[leaf] for step in self.steps])
                if self.steps
                else np.zeros((0, n, *s.shape), wire_dtype(s)),
            )
            for leaf, s in template
        ]


def rollout(args: argparse.Namespace) -> None:
    kwargs = json.loads(args.kwargs_json) if args.kwargs_json else {}
    if args.max_episode_steps > 0:
        kwargs["max_episode_steps"] = args.max_episode_steps
    n = args.num_envs
    vec = SyncVectorEnv(
        [functools.partial(gymnasium.make, args.env_id, **kwargs) for _ in range(n)],
        autoreset_mode=MODES[args.autoreset_mode],
    )
    act_space, obs_space = vec.single_action_space, vec.single_observation_space
    if isinstance(act_space, (spaces.Dict, spaces.Tuple)):
        raise SystemExit(f"nested action space {act_space} is not supported by the actions file format")
    actions = read_array_file(args.actions)
    if actions.ndim < 2 or actions.shape[1] != n or actions.shape[2:] != act_space.shape:
        raise SystemExit(f"actions must be [steps, {n}, *{act_space.shape}], got {list(actions.shape)}")
    actions = actions.astype(act_space.dtype)
    steps = actions.shape[0]

    reset_obs = Recorder("reset_observation", obs_space)
    observation = Recorder("observation", obs_space)
    final_observation = Recorder("final_observation", obs_space)
    masked_reset_obs = Recorder("reset_mask_observation", obs_space)
    reward = np.zeros((steps, n), np.float64)
    terminated = np.zeros((steps, n), bool)
    truncated = np.zeros((steps, n), bool)
    ended_mask = np.zeros((steps, n), bool)

    obs, _ = vec.reset(seed=args.seed)
    reset_obs.add(obs)
    for t in range(steps):
        obs, reward[t], terminated[t], truncated[t], info = vec.step(actions[t])
        observation.add(obs)
        ended = terminated[t] | truncated[t]
        ended_mask[t] = ended
        if args.autoreset_mode == "same_step":
            final = zeros_like_obs(obs_space, n)
            for i in np.flatnonzero(info.get("_final_obs", np.zeros(n, bool))):
                set_row(obs_space, final, i, info["final_obs"][i])
            final_observation.add(final)
        elif args.autoreset_mode == "disabled":
            if ended.any():
                reset_result, _ = vec.reset(options={"reset_mask": ended.copy()})
            else:
                reset_result = zeros_like_obs(obs_space, n)
            masked_reset_obs.add(reset_result)
    vec.close()

    arrays = reset_obs.arrays(n)
    arrays[:] = [(name, a[0]) for name, a in arrays]  # one reset: drop the step axis
    arrays += observation.arrays(n)
    arrays += [("reward", reward), ("terminated", terminated), ("truncated", truncated)]
    if args.autoreset_mode == "same_step":
        arrays += final_observation.arrays(n) + [("final_mask", ended_mask)]
    elif args.autoreset_mode == "disabled":
        arrays += [("reset_mask", ended_mask)] + masked_reset_obs.arrays(n)
    meta = {
        "env_id": args.env_id,
        "num_envs": n,
        "autoreset_mode": args.autoreset_mode,
        "seed": args.seed,
        "steps": steps,
        "kwargs": json.loads(args.kwargs_json) if args.kwargs_json else {},
        "max_episode_steps": args.max_episode_steps,
    }
    write_arrays(args.out, FORMAT, meta, arrays)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="In-process reference rollout for the rql4j compat tests.")
    parser.add_argument("--env-id", required=True)
    parser.add_argument("--num-envs", type=int, default=1)
    parser.add_argument("--autoreset-mode", choices=sorted(MODES), default="same_step")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--actions", required=True, help="actions file (JSON header line + raw little-endian bytes)")
    parser.add_argument("--out", required=True, help="rollout file to write (same style)")
    parser.add_argument("--kwargs-json", default="", help="keyword arguments for gymnasium.make, as a JSON object")
    parser.add_argument("--max-episode-steps", type=int, default=0, help="> 0 overrides the registered limit")
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first (to register extra env ids)",
    )
    args = parser.parse_args(argv)
    for module in args.imports:
        importlib.import_module(module)
    rollout(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
