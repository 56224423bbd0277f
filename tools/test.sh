#!/usr/bin/env bash
# Run the test suite (under Xvfb when there is no display); fail when no test ran.
# Slow tests (full data sets, long benchmarks) are left out: add `-m slow` to run them.
set -uo pipefail
cd "$(dirname "$0")/.."
args=(-m pytest -p no:cacheprovider -m "not slow" --cov --cov-report=term:skip-covered "$@")
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null; then
  xvfb-run -a -s "-screen 0 1024x768x24" .venv/bin/python "${args[@]}"
else
  .venv/bin/python "${args[@]}"
fi
rc=$?
if [ "$rc" = 5 ]; then echo "test: no test was collected: failing." >&2; exit 1; fi
exit "$rc"
