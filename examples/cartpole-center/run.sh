#!/usr/bin/env bash
# Customize the shipped soft-DQN CartPole prior to keep the cart centred (residual soft Q-learning),
# then print the before/after table. Outputs (config, metrics.csv, the saved policy, summary) go to
# runs/cartpole-center-<seed>/. Usage: examples/cartpole-center/run.sh [seed] [env steps]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seed="${1:-0}"
steps="${2:-100000}"
cd "$root"
make -s setup
bin/rql4j customize --task cartpole-center --prior examples/priors/cartpole-center-softdqn \
  --steps "$steps" --seed "$seed" --out "runs/cartpole-center-$seed"
