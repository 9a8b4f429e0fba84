# Two commands set everything up on a machine with only python3 and make:
#   make reports   -> .venv, install, build every report of reports/schedule.yaml
#   make test      -> .venv, install, the whole test suite (unit, papermill, nbval)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: venv reports test browser lab nbval benchmark clean

venv: $(STAMP)

# One line per step, with its time; a step's own output is shown only when it fails.
define step
	@start=$$(date +%s); log=$$(mktemp); \
	if $(2) >"$$log" 2>&1; then echo "$(1): done in $$(( $$(date +%s) - start )) s"; rm -f "$$log"; \
	else cat "$$log"; rm -f "$$log"; echo "$(1): FAILED"; exit 1; fi
endef

# Re-install only when the project's dependency list changes.
$(STAMP): pyproject.toml
	$(call step,create $(VENV),$(PYTHON) -m venv $(VENV))
	$(call step,upgrade pip,$(BIN)/python -m pip install --upgrade pip)
	$(call step,install oda-security-notebooks and its pinned dependencies,$(BIN)/python -m pip install -e ".[test]")
	$(call step,install the Jupyter kernel,$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (oda_data)")
	@touch $(STAMP)

# Without a CRS file ($$ODA_CRS_SOURCE) the CRS pages are built on the bundled
# demonstration file, labelled as such, so that every page of the site exists.
reports: $(STAMP)
	$(BIN)/oda-data reports build --jobs $(JOBS) $(if $(ODA_CRS_SOURCE),,--demo)

# The browser test drives Debian's chromium (Playwright cannot download its own browsers
# here); install it when it is missing (root, as on CI). Without it the browser test
# skips on a developer's machine and fails under CI=true.
CHROMIUM := /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "make browser: could not install chromium (apt-get, as root); the browser test will fail under CI"

test: $(STAMP) browser
	$(BIN)/python -m pytest -n $(JOBS) tests
	$(BIN)/python -m pytest --nbval notebooks --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:randomly

# JupyterLab applies the stored tables' styles (pandas Styler's <style> blocks) only in trusted notebooks: trust
# the project's own (the signatures go to Jupyter's database; the notebook files are not touched).
lab: $(STAMP)
	$(BIN)/jupyter trust notebooks/*.ipynb notebooks/teaching/*.ipynb >/dev/null
	$(BIN)/jupyter lab notebooks

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_read_crs.py

clean:
	rm -rf reports/build .pytest_cache
