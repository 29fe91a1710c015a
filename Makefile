# The table of contents of every workflow. `make lab` and `make test` work on a fresh clone.
VENV   ?= .venv
PY     := $(VENV)/bin/python
ROOT_OK := $(if $(filter 0,$(shell id -u)),--allow-root)
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
WORKSPACE := $(or $(DIR),workspace)

.PHONY: setup lab workspace run times test lint exercises check-exercises outputs badges slides site browser-deps \
        release-check bench gpu-check claims fuzz clean

setup: $(VENV)/.installed                        ## a .venv with the library (editable) and the dev tools

$(VENV)/.installed: pyproject.toml tools/setup_venv.sh
	VENV=$(VENV) TORCH="$(TORCH)" bash tools/setup_venv.sh && touch $@

lab: workspace                                   ## open the course in JupyterLab; your workbooks are in workspace/
	$(VENV)/bin/jupyter lab $(ROOT_OK) --notebook-dir=. notebooks/00_start_here.ipynb

workspace: setup                                 ## copy the workbooks into DIR (default workspace/), never overwriting
	$(PY) -m superpose_lib workspace "$(WORKSPACE)"

run: setup                                       ## every lecture at full settings into build/run, with a time table
	$(PY) tools/run_notebooks.py notebooks --out build/run

times: setup                                     ## make run, then write its time table into README.md
	$(PY) tools/run_notebooks.py notebooks --out build/run --readme

test: setup check-exercises lint                 ## lint, unit and property tests, checks, notebook gates, site, browser
	$(PY) -m pytest --doctest-modules superpose_lib tests $(NBVAL) notebooks

browser-deps:                                    ## Debian's chromium for tests/test_browser.py (apt-get, as root)
	bash tools/install_browser.sh

lint: setup                                      ## ruff on the code and the notebooks
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

exercises: setup                                 ## regenerate exercises/ from solutions/ (never overwrites an edited one)
	$(PY) tools/make_exercises.py

check-exercises: setup                           ## fail if exercises/ is not what solutions/ generates
	$(PY) tools/make_exercises.py --check

outputs: setup                                   ## re-execute the lecture notebooks in place (stored outputs)
	$(PY) tools/run_notebooks.py notebooks --in-place && $(PY) tools/slides.py

claims: setup                                    ## every lecture claim in the stored outputs: held, failed or missing (ARGS=--json)
	$(PY) tools/claims.py $(ARGS)

fuzz: setup                                      ## bad input at every public door, many generated values (slow); CI runs a few
	PUBLIC_INPUTS_FULL=1 $(PY) -m pytest -q tests/test_public_inputs.py

badges: setup                                    ## regenerate setup cells and README badges from pyproject.toml
	$(PY) tools/course_links.py && $(PY) tools/make_exercises.py

release-check: setup                             ## before publishing: tag, badges and every setup cell agree
	$(PY) tools/release_check.py

slides: setup                                    ## lecture slides: apply tools/slides.py's rule, export reveal.js to build/slides
	$(PY) tools/slides.py --html build/slides

bench: setup                                     ## every benchmark in benchmarks/, each printing its ratios
	@for script in benchmarks/bench_*.py; do [ -e "$$script" ] || continue; echo "== $$script"; $(PY) $$script || exit 1; done

gpu-check: setup                                 ## on an NVIDIA GPU: the library's tests with their CUDA cases, benchmarks on CUDA
	PY=$(PY) bash tools/gpu_check.sh

site: setup                                      ## the course website in build/site/html (lectures with stored outputs)
	$(PY) tools/build_site.py

clean:                                           ## remove build outputs (not .venv, never your notebooks)
	rm -rf build .pytest_cache .ruff_cache
