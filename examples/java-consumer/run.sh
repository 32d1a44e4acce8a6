#!/usr/bin/env bash
# The consumer check (make test runs it after `mvn install` in the checkout): this project, outside
# the checkout's classpath and venv, depends on the installed org.rql4j:rql4j and on the rql4j-bridge
# wheel installed into a fresh venv of its own WITHOUT the priors extra (no torch: DJL loads the
# prior on the Java side), and customizes a shipped prior through the public API.
#   examples/java-consumer/run.sh [PYTHON]     (PYTHON: the interpreter that makes the venv; python3)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${1:-python3}"
work="$here/target"
rm -rf "$work/venv" "$work/wheel" "$work/run"
mkdir -p "$work"

# the wheel, built from python-bridge alone, installed with its declared dependencies only
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip -c "$root/python-bridge/constraints.txt"
"$work/venv/bin/python" -m pip wheel --quiet --no-deps "$root/python-bridge" -w "$work/wheel"
"$work/venv/bin/python" -m pip install --quiet "$work"/wheel/rql4j_bridge-*.whl -c "$root/python-bridge/constraints.txt"
if "$work/venv/bin/python" -c "import torch" 2>/dev/null; then
  echo "java-consumer: torch is installed in the fresh venv, but nothing should have pulled it in" >&2
  exit 1
fi

# the Maven project: its own build, the library from ~/.m2 (not the checkout's target/)
cd "$here"
mvn -B -q verify -Drql4j.python="$work/venv/bin/python"
echo "java-consumer: passed (org.rql4j:rql4j from the local repository, the wheel in a fresh venv without torch)"
