#!/usr/bin/env bash
# Customize the shipped SB3 PPO HalfCheetah prior (trained on HalfCheetah-v5's own reward: run
# forward fast) to keep its forward speed under 2.5 m/s (the add-on penalizes every m/s above it),
# with residual PPO: pi_theta starts as a copy of the prior's network and PPO fine-tunes it on the
# add-on reward plus the prior's log-prob (Algorithm 4 of docs/method.md). Then print the
# before/after table on the total reward. ~3000 env steps/s on our 2-core machine.
# Outputs (config, metrics.csv, checkpoints, summary) go to runs/halfcheetah-speedcap-<row>-<seed>/;
# rerun with --resume appended to continue a stopped run.
# Usage: examples/halfcheetah-speedcap/run.sh [seed] [env steps] [row: residual|kl|oracle|addon-only] [more ppo options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seed="${1:-0}"
steps="${2:-300000}"
row="${3:-residual}"
cd "$root"
make -s setup
bin/rql4j ppo --task halfcheetah-speedcap --baseline "$row" --steps "$steps" --seed "$seed" \
  --out "runs/halfcheetah-speedcap-$row-$seed" "${@:4}"
