"""The KL-budget table of docs/results.md from the run folders examples/kl-budget/run.sh made.

Usage: python table.py RUNS_DIR. A row pools the 20 evaluation episodes of each seed (reset seeds
10000..) of one task and prior; it succeeds when the customized policy's add-on return beats the
prior's by more than the prior's episode std AND its basic return is within 5 % of the prior's. The
KL check, per seed: the measured KL at the end (the progress line's, about the last 1000 gradient
steps; PPO: its average over the last rollouts) is within 20 % of the budget, or alphaHat sits at its
lower clamp (1e-3) with the KL below the budget.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

ROWS = {  # run-name prefix: (task, prior, learner, ours)
    "cartpole-center-softdqn": ("cartpole-center", "soft DQN (shipped)", "soft Q", True),
    "cartpole-center-bc": ("cartpole-center", "behaviour-cloned (shipped)", "soft Q", True),
    "mountaincar-lessleft-sac": ("mountaincar-lessleft", "SB3 SAC (shipped)", "SAC", True),
    "halfcheetah-speedcap-ppo": ("halfcheetah-speedcap", "SB3 PPO (shipped)", "PPO", True),
    "acrobot-lessleft-dqn": ("Acrobot-v1, -0.1 per use of action 0", "SB3 DQN, exported at T 0.3", "soft Q", False),
    "pendulum-lowtorque-sac": ("Pendulum-v1, -max(0, abs(a) - 1) per step", "SB3 SAC", "SAC", False),
    "acrobot-slowfirst-dqn": ("Acrobot-v1, -0.1 per step with the first joint faster than 3 rad/s",
                              "SB3 DQN, exported at T 0.3", "soft Q", False),
    "acrobot-nobraking-dqn": ("Acrobot-v1, -0.1 per step whose torque opposes the second joint's motion",
                              "SB3 DQN, exported at T 0.3", "soft Q", False),
    "pendulum-quiettop-sac": ("Pendulum-v1, -abs(a) per step within 0.3 rad of upright", "SB3 SAC", "SAC", False),
    "mountaincar-stayright-dqn": ("MountainCar-v0, -0.1 per step left of x = -0.9", "SB3 DQN, exported at T 0.1",
                                 "soft Q", False),
    "invpendulum-centered-sac": ("InvertedPendulum-v5, -abs(x) per step (x the cart position), -200 on a fall",
                                 "SB3 SAC", "SAC", False),
    "cartpole-righthalf-ppo": ("CartPole-v1, -0.1 per step left of the centre, -100 on a fall", "SB3 PPO",
                               "soft Q", False),
    "cartpole-rightbonus-ppo": ("CartPole-v1, +0.1 per step right of the centre", "SB3 PPO", "soft Q", False),
    "cartpole-lefthalf-dqn": ("CartPole-v1, -0.1 per step right of the centre, -100 on a fall",
                              "SB3 DQN, exported at T 0.2", "soft Q", False),
    "cartpole-leftbonus-dqn": ("CartPole-v1, +0.1 per step left of the centre", "SB3 DQN, exported at T 0.2",
                               "soft Q", False),
}
MIN_ALPHA_HAT = 1e-3


def mean_std(xs: list[float]) -> tuple[float, float]:
    return statistics.fmean(xs), statistics.pstdev(xs)


def main(runs: Path) -> None:
    by_row: dict[str, list[Path]] = {}
    for run in sorted(runs.iterdir()):
        m = re.fullmatch(r"(.+)-s(\d+)", run.name)
        if m and (run / "summary.json").is_file() and m.group(1) in ROWS:
            by_row.setdefault(m.group(1), []).append(run)
    print("| task (our own tasks first) | prior | learner | budget (nats) | prior: basic / add-on | customized: basic / "
          "add-on | seeds | KL at the end / alphaHat, per seed | add-on better by > prior std | basic within 5 % | "
          "KL check | row |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, (task, prior_name, learner, ours) in ROWS.items():
        runs_of = by_row.get(name, [])
        if not runs_of:
            print(f"| {task} | {prior_name} | {learner} | | | | 0 (not run) | | | | | |")
            continue
        prior_eps, learned_eps, kls = [], [], []
        budget = None
        temperature = 1.0
        for run in runs_of:
            s = json.loads((run / "summary.json").read_text())
            c = json.loads((run / "config.json").read_text())
            budget = c.get("kl_budget")
            temperature = c.get("kl_budget_prior_temperature", 1.0)
            prior_eps += s["prior_episodes"]
            learned_eps += s["learned_episodes"]
            p = s["final_progress"]
            kls.append((p.get("klToPrior", float("nan")), p.get("alphaHat", float("nan"))))
        # the prior is evaluated on the same seeds in every run: one run's episodes are its row
        prior_eps = prior_eps[: len(prior_eps) // len(runs_of)]
        pb, _ = mean_std([e["basicReturn"] for e in prior_eps])
        pa, pa_std = mean_std([e["addonReturn"] for e in prior_eps])
        lb, lb_std = mean_std([e["basicReturn"] for e in learned_eps])
        la, la_std = mean_std([e["addonReturn"] for e in learned_eps])
        better = la - pa > pa_std
        kept = abs(lb - pb) <= 0.05 * abs(pb)
        kl_ok = budget is not None and all(
            abs(kl - budget) <= 0.2 * budget or (a <= MIN_ALPHA_HAT * 1.0001 and kl < budget) for kl, a in kls)
        kl_text = ", ".join(f"{kl:.3f} / {a:.3g}" for kl, a in kls)
        row_ok = better and kept
        print(f"| {task}{'' if ours else ' (user task)'} | {prior_name} | {learner} | {budget:.6g}{'' if temperature == 1.0 else f' (prior at T {temperature:.6g})'} | {pb:.1f} / {pa:.2f} "
              f"± {pa_std:.2f} | {lb:.1f} ± {lb_std:.1f} / {la:.2f} ± {la_std:.2f} | {len(runs_of)} | {kl_text} | "
              f"{'yes' if better else 'no'} | {'yes' if kept else 'no'} ({(lb - pb) / abs(pb) * 100:+.1f} %) | "
              f"{'met' if kl_ok else 'not met'} | {'**succeeds**' if row_ok else 'fails'} |")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs"))
