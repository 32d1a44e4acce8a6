# rql4j: two commands do everything (see README.md).
#   make demo   set up (venv, python-bridge, Maven build) and run the main demo
#   make test   set up what it needs and run every test: Python, Java unit, integration, compat, and
#               the consumer project (examples/java-consumer)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.rql4j-installed
MVN := mvn -B -q
JAVA_SOURCES := $(shell find rql4j/src/main rql4j-cli/src/main proto -type f 2>/dev/null) pom.xml rql4j/pom.xml rql4j-cli/pom.xml
# Numerics (docs/reproducibility.md): the tests run pinned (the same float code paths on every x86-64
# CPU) unless RQL4J_NUMERICS=native; Maven's test JVMs get the pins from pom.xml. The benchmarks and
# the CLI run the CPU's own kernels unless RQL4J_NUMERICS=pinned.
NUMERICS := bin/numerics-env
TEST_NUMERICS := RQL4J_NUMERICS=$${RQL4J_NUMERICS:-pinned} $(NUMERICS)
# The Python versions CI was green with (docs/reproducibility.md, "Python versions"; `make lock` refreshes it).
CONSTRAINTS := python-bridge/constraints.txt
# The command line's runtime classpath, for bin/rql4j.
CLI_CP := rql4j-cli/target/classpath.txt

.PHONY: setup lock demo test test-python test-python-run test-java test-consumer test-consumer-run bench bench-pins bench-prior bench-softq bench-sac bench-ppo bench-memory bench-workers bench-step-cost clean

setup: $(PY_STAMP) $(CLI_CP)

# The project venv: python-bridge (editable) with its test extras, at the locked versions. pip's
# cache serves reruns.
$(PY_STAMP): python-bridge/pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip -c $(CONSTRAINTS)
	$(PY) -m pip install --quiet -e 'python-bridge[dev]' -c $(CONSTRAINTS)
	touch $@

# Refreshes the lock: the venv anew with the newest versions pyproject.toml allows, the whole suite
# on it, then its versions written to $(CONSTRAINTS), only if the suite passed. Review the diff.
lock:
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e 'python-bridge[dev]'
	touch $(PY_STAMP)
	$(MAKE) $(CLI_CP) test-python-run test-java || { rm -rf $(VENV); echo "make lock: the suite failed on the newest \
	  versions; $(CONSTRAINTS) is unchanged and 'make setup' installs the locked ones again" >&2; exit 1; }
	( echo "# Python versions of the project venv that 'make test' passed with (written by 'make lock';"; \
	  echo "# see docs/reproducibility.md). 'make setup' installs with -c this file."; \
	  $(PY) -m pip freeze --exclude-editable --all ) > $(CONSTRAINTS)
	touch $(PY_STAMP)

# Java: compile both modules (gRPC code generated from proto/) and record the command line's runtime
# classpath (the library's classes, no test jars) for bin/rql4j.
$(CLI_CP): $(JAVA_SOURCES)
	$(MVN) -DskipTests compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt -DincludeScope=runtime
	touch $@

demo: setup
	bin/rql4j demo

# setup: the Java side too, for the tests of rql4j_bridge.customize (it runs bin/rql4j)
test-python: setup test-python-run

test-python-run:
	$(TEST_NUMERICS) $(PY) -m pytest python-bridge/tests compat-tests/python -q

# Unit tests, then (-Pit) the integration and compat tests with the real Python server; installs
# the artifacts into ~/.m2 for the consumer test (examples/java-consumer).
test-java: setup
	mvn -B install -Pit

# examples/java-consumer: a project of its own on the installed org.rql4j:rql4j and the wheel in a fresh
# venv without torch (after test-java's `mvn install`).
test-consumer-run:
	examples/java-consumer/run.sh $(PY)

test-consumer: setup
	$(MVN) -DskipTests install
	examples/java-consumer/run.sh $(PY)

test: test-python test-java test-consumer-run

# Side-by-side bridge benchmark (not a test): writes docs/benchmarks.md and compat-tests/results/.
BENCH_JAVA = $(NUMERICS) java -Dai.djl.pytorch.num_threads=1 -Drql4j.python=$(CURDIR)/$(PY) -Drql4j.project.dir=$(CURDIR) \
	-cp rql4j/target/test-classes:rql4j/target/classes:$$(cat rql4j/target/test-classpath.txt):rql4j-cli/target/classes:$$(cat $(CLI_CP))

rql4j/target/test-classpath.txt: pom.xml rql4j/pom.xml
	$(MVN) -pl rql4j dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt -DincludeScope=test

bench: setup rql4j/target/test-classpath.txt
	$(MVN) test-compile
	$(BENCH_JAVA) org.rql4j.compat.BridgeBenchmark

# Prior log-prob latency, in-process vs remote (not a test): writes docs/benchmarks.md.
bench-prior: setup rql4j/target/test-classpath.txt
	$(MVN) test-compile
	$(PY) compat-tests/python/make_prior_fixtures.py --out target/prior-fixtures
	$(BENCH_JAVA) org.rql4j.compat.PriorBenchmark

# Full CartPole customization, Java learner vs the PyTorch reference, under /usr/bin/time -v, in PAIRS
# pairs of runs taking turns (not a test; ~5 min a pair on an idle machine): writes docs/benchmarks.md.
PAIRS ?= 3
bench-softq: setup rql4j/target/test-classpath.txt
	$(MVN) test-compile
	$(BENCH_JAVA) org.rql4j.compat.CustomizationSpeedBenchmark cartpole-center 100000 $(PAIRS)

# The same for MountainCar (residual SAC; ~17 min a pair): one pair unless PAIRS=N is given.
bench-sac: setup rql4j/target/test-classpath.txt
	$(MVN) test-compile
	$(BENCH_JAVA) org.rql4j.compat.CustomizationSpeedBenchmark mountaincar-lessleft 100000 $(if $(filter command line,$(origin PAIRS)),$(PAIRS),1)

# PPO training speed on HalfCheetah, Java PPO through the bridge vs SB3 in-process (not a test; ~5 min idle).
bench-ppo: setup rql4j/target/test-classpath.txt
	$(MVN) test-compile
	$(BENCH_JAVA) org.rql4j.compat.PpoSpeedBenchmark halfcheetah-speedcap 100000

# What each numerics pin costs the learners (not a test; ~7 min idle): writes docs/benchmarks.md.
bench-pins: setup rql4j/target/test-classpath.txt
	$(MVN) test-compile
	$(BENCH_JAVA) org.rql4j.compat.NumericsPinBenchmark 3

# Where a training step's env step and prior query go, piece by piece, Java and Python (not a test; ~3 min
# idle): writes docs/benchmarks.md.
bench-step-cost: setup rql4j/target/test-classpath.txt
	$(MVN) test-compile
	$(BENCH_JAVA) org.rql4j.bridge.StepCostBenchmark

# Learner memory over a long run (not a test; ~25 min): writes docs/benchmarks.md.
bench-memory: setup rql4j/target/test-classpath.txt
	$(MVN) test-compile
	$(BENCH_JAVA) -Xmx512m org.rql4j.compat.SoftQMemoryBenchmark 10000 100000 1000000

# Env steps/s of the env server's backends, in its own process vs worker processes (not a test; ~5 min
# idle): writes docs/benchmarks.md.
bench-workers: setup
	$(PY) compat-tests/python/bench_env_workers.py --rounds 3 --doc docs/benchmarks.md --json compat-tests/results/env-workers-benchmark.json

clean:
	rm -rf target rql4j/target rql4j-cli/target $(VENV)
