# rql4j: two commands do everything (see README.md).
#   make demo   set up (venv, python-bridge, Maven build) and run the main demo
#   make test   set up what it needs and run every test: Java unit, Python, integration, compat
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.rql4j-installed
MVN := mvn -B -q
JAVA_SOURCES := $(shell find src/main proto -type f 2>/dev/null)
# Numerics (docs/reproducibility.md): the tests run pinned (the same float code paths on every x86-64
# CPU) unless RQL4J_NUMERICS=native; Maven's test JVMs get the pins from pom.xml. The benchmarks and
# the CLI run the CPU's own kernels unless RQL4J_NUMERICS=pinned.
NUMERICS := bin/numerics-env
TEST_NUMERICS := RQL4J_NUMERICS=$${RQL4J_NUMERICS:-pinned} $(NUMERICS)
# The Python versions CI was green with (docs/reproducibility.md, "Python versions"; `make lock` refreshes it).
CONSTRAINTS := python-bridge/constraints.txt

.PHONY: setup lock demo test test-python test-python-run test-java bench bench-pins bench-prior bench-softq bench-sac bench-ppo bench-memory clean

setup: $(PY_STAMP) target/classpath.txt

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
	$(MAKE) test-python-run test-java || { rm -rf $(VENV); echo "make lock: the suite failed on the newest \
	  versions; $(CONSTRAINTS) is unchanged and 'make setup' installs the locked ones again" >&2; exit 1; }
	( echo "# Python versions of the project venv that 'make test' passed with (written by 'make lock';"; \
	  echo "# see docs/reproducibility.md). 'make setup' installs with -c this file."; \
	  $(PY) -m pip freeze --exclude-editable --all ) > $(CONSTRAINTS)
	touch $(PY_STAMP)

# Java: compile (gRPC code generated from proto/) and record the runtime classpath for bin/rql4j.
target/classpath.txt: pom.xml $(JAVA_SOURCES)
	$(MVN) -DskipTests compile
	$(MVN) dependency:build-classpath -Dmdep.outputFile=target/classpath.txt -DincludeScope=runtime
	touch $@

demo: setup
	bin/rql4j demo

test-python: $(PY_STAMP) test-python-run

test-python-run:
	$(TEST_NUMERICS) $(PY) -m pytest python-bridge/tests compat-tests/python -q

test-java: setup
	mvn -B verify

test: test-python test-java

# Side-by-side bridge benchmark (not a test): writes docs/benchmarks.md and compat-tests/results/.
BENCH_JAVA = $(NUMERICS) java -Dai.djl.pytorch.num_threads=1 -Drql4j.python=$(CURDIR)/$(PY) -Drql4j.project.dir=$(CURDIR) \
	-cp target/test-classes:target/classes:$$(cat target/test-classpath.txt)

target/test-classpath.txt: pom.xml
	$(MVN) dependency:build-classpath -Dmdep.outputFile=$@ -DincludeScope=test

bench: setup target/test-classpath.txt
	$(MVN) test-compile
	$(BENCH_JAVA) org.rql4j.compat.BridgeBenchmark

# Prior log-prob latency, in-process vs remote (not a test): writes docs/benchmarks.md.
bench-prior: setup target/test-classpath.txt
	$(MVN) test-compile
	$(PY) compat-tests/python/make_prior_fixtures.py --out target/prior-fixtures
	$(BENCH_JAVA) org.rql4j.compat.PriorBenchmark

# Learner memory over a long run (not a test; ~25 min): writes docs/benchmarks.md.
# Full CartPole customization, Java learner vs the PyTorch reference, under /usr/bin/time -v
# (not a test; run on an idle machine): writes docs/benchmarks.md.
bench-softq: setup target/test-classpath.txt
	$(MVN) test-compile
	$(BENCH_JAVA) org.rql4j.compat.CustomizationSpeedBenchmark cartpole-center

bench-sac: setup target/test-classpath.txt
	$(MVN) test-compile
	$(BENCH_JAVA) org.rql4j.compat.CustomizationSpeedBenchmark mountaincar-lessleft

# PPO training speed on HalfCheetah, Java PPO through the bridge vs SB3 in-process (not a test; ~5 min idle).
bench-ppo: setup target/test-classpath.txt
	$(MVN) test-compile
	$(BENCH_JAVA) org.rql4j.compat.PpoSpeedBenchmark halfcheetah-speedcap 100000

# What each numerics pin costs the learners (not a test; ~7 min idle): writes docs/benchmarks.md.
bench-pins: setup target/test-classpath.txt
	$(MVN) test-compile
	$(BENCH_JAVA) org.rql4j.compat.NumericsPinBenchmark 3

bench-memory: setup target/test-classpath.txt
	$(MVN) test-compile
	$(BENCH_JAVA) -Xmx512m org.rql4j.compat.SoftQMemoryBenchmark 10000 100000 1000000

clean:
	rm -rf target $(VENV)
