#!/usr/bin/env bash
# Customize the shipped soft-DQN highway prior (trained on highway-rightlane's basic reward: drive
# fast, do not crash) to keep to the right lane, with residual soft Q-learning; then print the
# before/after table. highway-env steps at ~25/s on our machines: 15000 steps take ~11 min.
# Outputs (config, metrics.csv, checkpoints, the saved policy, summary) go to
# runs/highway-rightlane-<seed>/; rerun with --resume appended to continue a stopped run.
# Usage: examples/highway-rightlane/run.sh [seed] [env steps] [--resume]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seed="${1:-0}"
steps="${2:-15000}"
cd "$root"
make -s setup
bin/rql4j customize --task highway-rightlane --prior examples/priors/highway-rightlane-softdqn \
  --steps "$steps" --seed "$seed" --out "runs/highway-rightlane-$seed" "${@:3}"
