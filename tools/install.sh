#!/usr/bin/env bash
# Install bci-runtime into .venv/ at the repository root, with the system packages it needs.
# Idempotent: a second run only checks. Usage: bash tools/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "install: Python 3.11 or newer is needed (found $("$PY" --version 2>&1))." >&2; exit 1; }

# System packages: mosquitto (MQTT broker used by the tests), Xvfb + Mesa (PsychoPy without a screen),
# Chromium + its driver (the live view's browser tests).
apt_pkgs=(mosquitto mosquitto-clients openssl xvfb xauth xdotool libgl1-mesa-dri libglu1-mesa chromium chromium-driver)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO=none; fi
  if [ "$SUDO" = none ] || ! command -v apt-get >/dev/null; then
    echo "install: please install these system packages yourself: ${missing[*]}" >&2
    echo "install: (continuing: the runtime works without them; the MQTT and display tests will not)" >&2
  else
    echo "install: apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# pip's output minus the machine-specific "Location ... is ignored" noise; keeps pip's exit code.
pip_q() { .venv/bin/python -m pip -q --disable-pip-version-check "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }; }

stamp=.venv/.bci-installed
want=$(cat pyproject.toml constraints.txt tools/install.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "install: .venv is up to date"
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip_q install --upgrade "pip<26"
# constraints.txt pins every package to a tested version (pyproject.toml only holds ranges);
# the docs extra builds the documentation site (tools/test.sh checks it).
echo "install: pip install -e .[test,docs] -c constraints.txt (first run: a few minutes)"
pip_q install -c constraints.txt -e ".[test,docs]"
# PsychoPy without its psychtoolbox/Qt dependency tree (psychtoolbox pins numpy<2.4 and pulls
# in about 1.6 GB); pyproject.toml lists the parts of that tree PsychoPy needs.
pip_q install --no-deps -c constraints.txt "psychopy==2026.2.5"
# braindecode imports torchaudio, and PyPI's newest torchaudio (2.11) carries C++ extensions built
# against torch 2.11 that fail to load beside torch 2.13. Without them torchaudio imports in its
# pure-Python mode, which is all braindecode's encoders need.
if ! .venv/bin/python -c "import torchaudio" >/dev/null 2>&1; then
  echo "install: torchaudio's compiled extension does not match torch; using its pure-Python mode"
  rm -f .venv/lib/python3*/site-packages/torchaudio/lib/*.so
  .venv/bin/python -c "import torchaudio, braindecode.models" >/dev/null
fi
echo "$want" > "$stamp"
echo "install: done. Try: .venv/bin/bci --help"
