#!/usr/bin/env bash
# Customize the shipped SB3 PPO Hopper prior (trained on Hopper-v5's own reward: hop
# forward without falling) to hop low: the add-on penalizes every metre of torso height above 1.3 m
# and charges 100 for a fall, with residual PPO: pi_theta starts as a copy of the prior's network and
# PPO fine-tunes it on the add-on reward plus the prior's log-prob (Algorithm 4 of docs/method.md).
# Then print the before/after table on the total reward. ~2400 env steps/s on our 2-core machine
# (1e6 steps: ~7 min).
# Outputs (config, metrics.csv, checkpoints, summary) go to runs/hopper-height-<row>-<seed>/;
# rerun with --resume appended to continue a stopped run.
# The weights and the budget are docs/results.md's hopper-height table's (w 0.1 / alphaHat 0.05,
# KL beta 0.1; 1e6 env steps): lighter than rql4j ppo's defaults, which hold this prior too tightly.
# Usage: examples/hopper-height/run.sh [seed] [env steps] [row: residual|kl|oracle|addon-only] [more ppo options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seed="${1:-0}"
steps="${2:-1000000}"
row="${3:-residual}"
cd "$root"
case "$row" in
  residual) weights=(--prior-weight 0.1 --alpha-hat 0.05) ;;
  kl) weights=(--beta 0.1) ;;
  *) weights=() ;;
esac
make -s setup
bin/rql4j ppo --task hopper-height --baseline "$row" --steps "$steps" --seed "$seed" \
  --out "runs/hopper-height-$row-$seed" "${weights[@]}" "${@:4}"
