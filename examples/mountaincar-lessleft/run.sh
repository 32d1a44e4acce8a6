#!/usr/bin/env bash
# Customize the shipped SB3 SAC MountainCar prior (trained on the env's own reward: reach the flag
# with little effort) to push left less, with residual SAC (docs/tasks.md's reference settings:
# prior weight 0.1, fixed alphaHat 0.1); then print the before/after table. ~150-200 env steps/s
# on our 2-core machine: 50000 steps take ~5 min.
# Outputs (config, metrics.csv, checkpoints, the saved policy, summary) go to
# runs/mountaincar-lessleft-<seed>/; rerun with --resume appended to continue a stopped run.
# Usage: examples/mountaincar-lessleft/run.sh [seed] [env steps] [more customize options, e.g. --resume]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seed="${1:-0}"
steps="${2:-50000}"
cd "$root"
make -s setup
bin/rql4j customize --task mountaincar-lessleft --prior examples/priors/mountaincar-lessleft-sac \
  --steps "$steps" --seed "$seed" --out "runs/mountaincar-lessleft-$seed" "${@:3}"
