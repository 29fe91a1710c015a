# The table of contents of every workflow. `make lab` and `make test` work on a fresh clone.
VENV   ?= .venv
PY     := $(VENV)/bin/python
ROOT_OK := $(if $(filter 0,$(shell id -u)),--allow-root)
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: setup lab run test lint exercises check-exercises outputs badges bench clean

setup: $(VENV)/.installed                        ## a .venv with the library (editable) and the dev tools

$(VENV)/.installed: pyproject.toml tools/setup_venv.sh
	VENV=$(VENV) TORCH="$(TORCH)" bash tools/setup_venv.sh && touch $@

lab: setup                                       ## open the course in JupyterLab
	$(VENV)/bin/jupyter lab $(ROOT_OK) --notebook-dir=. notebooks/00_start_here.ipynb

run: setup                                       ## every lecture at full settings into build/run, with a time table
	$(PY) tools/run_notebooks.py notebooks --out build/run

test: setup lint check-exercises                 ## lint, unit and property tests, checks, notebook gates, JupyterLab
	$(PY) -m pytest --doctest-modules superpose_lib tests $(NBVAL) notebooks

lint: setup                                      ## ruff on the code and the notebooks
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

exercises: setup                                 ## regenerate exercises/ from solutions/ (touches exercises/ only)
	$(PY) tools/make_exercises.py

check-exercises: setup                           ## fail if exercises/ is not what solutions/ generates
	$(PY) tools/make_exercises.py --check

outputs: setup                                   ## re-execute the lecture notebooks in place (stored outputs)
	$(PY) tools/run_notebooks.py notebooks --in-place

badges: setup                                    ## regenerate setup cells and README badges from pyproject.toml
	$(PY) tools/course_links.py && $(PY) tools/make_exercises.py

bench: setup                                     ## every benchmark in benchmarks/, each printing its ratios
	@for script in benchmarks/bench_*.py; do [ -e "$$script" ] || continue; echo "== $$script"; $(PY) $$script || exit 1; done

clean:                                           ## remove build outputs (not .venv, never your notebooks)
	rm -rf build .pytest_cache .ruff_cache
