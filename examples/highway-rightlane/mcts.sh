#!/usr/bin/env bash
# Zero-shot: customize the shipped soft-DQN highway prior to keep to the right lane by residual
# max-ent tree search (method.md, Algorithm 3), with no training; prints the prior alone / plain
# max-ent MCTS / residual MCTS table (returns, crash rate, decision latency). Each decision
# searches `simulations` x up to 6 highway-env steps: at 20 simulations a decision takes ~2-4 s on
# our 2-core machine, an episode (40 decisions) ~2 min.
# Finished episodes go to runs/highway-rightlane-mcts/; rerunning the same command continues.
# Usage: examples/highway-rightlane/mcts.sh [episodes] [simulations] [more mcts options]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
episodes="${1:-3}"
simulations="${2:-20}"
cd "$root"
make -s setup
bin/rql4j mcts --task highway-rightlane --prior examples/priors/highway-rightlane-softdqn \
  --episodes "$episodes" --simulations "$simulations" --out "runs/highway-rightlane-mcts-s$simulations" \
  --doc "runs/highway-rightlane-mcts-s$simulations/table.md" "${@:3}"
