# Two commands matter: `make grade lab4` (grade your work) and `make test` (the project's suite).
# Each bootstraps what it needs: a .venv with the package, a Docker engine, the base images.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LABS   := $(notdir $(wildcard labs/*))
# `make grade lab4 ARGS='image-gallery --format json'` passes more arguments.
GRADE_ARGS := $(filter-out grade,$(MAKECMDGOALS))

.PHONY: venv engine images grade test test-fast lint check bench docs clean $(LABS)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)

engine: $(STAMP)
	@$(BIN)/dockerlab engine

images: engine
	@$(BIN)/dockerlab images --ensure

grade: images
	@$(BIN)/dockerlab grade $(or $(GRADE_ARGS),lab4) $(ARGS)

check: $(STAMP)
	@$(BIN)/dockerlab check $(or $(filter-out check,$(MAKECMDGOALS)),lab4)

test: lint images
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The unit tests alone: no engine, no images (tests marked `engine` are left out).
test-fast: lint
	$(BIN)/python -m pytest -m "not engine" tests/unit $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check grader tests benchmarks

bench: images
	@# Both benchmarks run; the target fails if either misses its target.
	$(BIN)/python -m benchmarks.grade_cache; cache=$$?; \
	$(BIN)/python -m benchmarks.batch_throughput; batch=$$?; \
	test $$cache -eq 0 -a $$batch -eq 0

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

clean:
	-$(BIN)/dockerlab clean
	rm -rf site

# Lab names are arguments of `grade` and `check`, not targets of their own.
$(LABS):
	@:
