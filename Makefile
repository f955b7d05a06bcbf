# Two commands matter: `make grade lab4` (grade your work) and `make test` (the project's suite).
# Each bootstraps what it needs: a .venv with the package, a Docker engine, the base images.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LABS   := $(notdir $(wildcard labs/*))
# `make grade lab4 ARGS='image-gallery --format json'` passes more arguments.
GRADE_ARGS := $(filter-out grade,$(MAKECMDGOALS))

.PHONY: venv engine images chromium grade test test-fast lint check bench docs docs-serve notebooks clean $(LABS)

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

# GNU make exits 2 for every failed recipe, so its exit code cannot tell "the lab failed" (the
# grader's 1) from "grading could not run" (2): the recipe names the grader's own code. CI and
# scripts run `dockerlab grade` itself (docs/reference/output-formats.md, "Exit codes").
grade: images
	@$(BIN)/dockerlab grade $(or $(GRADE_ARGS),lab4) $(ARGS); code=$$?; case $$code in \
	  0) ;; \
	  1) echo "dockerlab grade exited 1: graded, the lab's verdict is FAILED." >&2 ;; \
	  2) echo "dockerlab grade exited 2: grading could not run (see the error above)." >&2 ;; \
	  *) echo "dockerlab grade exited $$code." >&2 ;; \
	esac; exit $$code

check: $(STAMP)
	@$(BIN)/dockerlab check $(or $(filter-out check,$(MAKECMDGOALS)),lab4)

test: lint images chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Headless Chromium, and the fonts its screenshots draw text with (Hangul too, for the Korean
# pages), for the browser tests (tests/unit/test_report_in_browser.py, test_site_in_browser.py):
# installed with apt when missing.
SUDO = $(if $(filter 0,$(shell id -u)),,sudo)
chromium:
	@if ! { command -v chromium || command -v chromium-browser; } >/dev/null 2>&1 \
	    || ! fc-list 'DejaVu Sans' 2>/dev/null | grep -q . \
	    || ! fc-list :lang=ko 2>/dev/null | grep -q .; then \
	  command -v apt-get >/dev/null \
	    || { echo "Install Chromium: the browser tests open it." >&2; exit 1; }; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core fonts-nanum; \
	fi

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

# The site, English and Korean, with each lab's pages rendered from labs/ (docs/instructors/site.md).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

# The lab notebooks, notebooks/<lab>.<language>.ipynb, generated from each lab's READMEs and
# lab.yml (grader/notebook.py); tests/unit/test_notebook.py checks the committed ones are current.
notebooks: $(STAMP)
	@for lab in $(LABS); do $(BIN)/dockerlab notebook $$lab --out notebooks || exit 1; done

clean:
	-$(BIN)/dockerlab clean
	rm -rf site

# Lab names are arguments of `grade` and `check`, not targets of their own.
$(LABS):
	@:
