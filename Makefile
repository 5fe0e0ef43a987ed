# CityOps: `make demo` runs the whole district; `make test` runs every test.
# Both create .venv on first use and install what they need (nothing else to do first).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
RUNTIME := $(VENV)/.runtime-installed
TESTDEPS := $(VENV)/.test-installed

.PHONY: demo test lint media clean-var help

help:
	@echo "make demo   - install (first time) and run the whole system: http://127.0.0.1:8050"
	@echo "make test   - install test extras and run the whole suite (what CI runs)"
	@echo "make lint   - ruff"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(RUNTIME): requirements.txt pyproject.toml deps/dlib/pyproject.toml | $(PY)
	$(PIP) install --quiet -r requirements.txt
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	$(PY) -c "import face_recognition_models, cv2, onnxruntime, dash, kafka, sqlalchemy" \
		|| { echo "runtime install is incomplete"; exit 1; }
	touch $@

$(TESTDEPS): requirements-test.txt $(RUNTIME)
	$(PIP) install --quiet -r requirements-test.txt
	touch $@

media: $(RUNTIME)
	@if [ -f sample_media/generate.py ]; then $(PY) -m sample_media.generate --if-missing; fi

demo: $(RUNTIME) media
	$(VENV)/bin/cityops demo

test: $(TESTDEPS)
	bash tests/setup/ensure_services.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q

lint: $(TESTDEPS)
	$(VENV)/bin/ruff check .
