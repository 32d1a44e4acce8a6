#!/usr/bin/env bash
# Customize the shipped SB3 PPO Ant prior (trained on Ant-v5's own reward: walk
# forward without falling) to spend less mechanical work: the add-on penalizes the motors' power,
# with residual PPO: pi_theta starts as a copy of the prior's network and PPO fine-tunes it on the
# add-on reward plus the prior's log-prob (Algorithm 4 of docs/method.md). Then print the
# before/after table on the total reward. ~1500 env steps/s on our 2-core machine.
# Outputs (config, metrics.csv, checkpoints, summary) go to runs/ant-energy-<row>-<seed>/;
# rerun with --resume appended to continue a stopped run.
# The weights are docs/results.md's ant-energy table's (heavier than the HalfCheetah defaults).
# Usage: examples/ant-energy/run.sh [seed] [env steps] [row: residual|kl|oracle|addon-only] [more ppo options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seed="${1:-0}"
steps="${2:-300000}"
row="${3:-residual}"
cd "$root"
case "$row" in
  residual) weights=(--prior-weight 4 --alpha-hat 2) ;;
  kl) weights=(--beta 1) ;;
  *) weights=() ;;
esac
make -s setup
bin/rql4j ppo --task ant-energy --baseline "$row" --steps "$steps" --seed "$seed" \
  --out "runs/ant-energy-$row-$seed" "${weights[@]}" "${@:4}"
