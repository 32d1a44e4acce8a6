#!/usr/bin/env bash
# Two chained requirements (docs/results.md, "Chained requirements"): customize the shipped soft-DQN
# CartPole prior to keep the cart centred, then customize THAT policy (its export) to keep the cart on
# the left half, and evaluate each stage on both requirements. Usage: examples/chain/run.sh [env steps per stage]
# The weights are explicit (w = alphaHat = 1, the values these runs were made with): without them a run
# of your own task follows the default KL budget (docs/tuning.md).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
steps="${1:-100000}"
make -s -C "$root" setup
cd "$here"
rql4j="$root/bin/rql4j"
centre=rql4j_bridge.tasks.classic:cartpole_center_addon
# stage 1: keep the cart centred; the finished run exports its policy into runs/stage1-centre/export
"$rql4j" customize --env-id CartPole-v1 --addon "$centre" --prior ../priors/cartpole-center-softdqn \
  --steps "$steps" --seed 0 --prior-weight 1 --alpha-hat 1 --out runs/stage1-centre
# stage 2: the exported stage-1 policy is the prior; the new requirement is the left half
"$rql4j" customize --env-id CartPole-v1 --addon chain_tasks:stay_left --prior runs/stage1-centre/export \
  --steps "$steps" --seed 0 --prior-weight 1 --alpha-hat 1 --out runs/stage2-left
# the second requirement tried first (docs/results.md keeps its row): prefer pushing right
"$rql4j" customize --env-id CartPole-v1 --addon chain_tasks:push_right --prior runs/stage1-centre/export \
  --steps "$steps" --seed 0 --prior-weight 1 --alpha-hat 1 --out runs/tried-stage2-right
# each stage's policy beside its own prior, on every requirement (the same 20 seeds)
for stage in stage1-centre stage2-left tried-stage2-right; do
  for addon in "$centre" chain_tasks:stay_left chain_tasks:push_right; do
    "$rql4j" evaluate "runs/$stage/export" --env-id CartPole-v1 --addon "$addon" --episodes 20
  done
done
