#!/usr/bin/env bash
# Build the documentation (warnings are errors, links checked, offline), then run the test suite
# (under Xvfb when there is no display); fail when no test ran.
# Slow tests (full data sets, long benchmarks) are left out: add `-m slow` to run them.
set -uo pipefail
cd "$(dirname "$0")/.."
site=$(mktemp -d)
if ! NO_MKDOCS_2_WARNING=1 .venv/bin/python -m mkdocs build --strict --quiet --site-dir "$site"; then
  rm -rf "$site"
  echo "test: the documentation does not build (mkdocs build --strict): fix the warnings above." >&2
  exit 1
fi
rm -rf "$site"
args=(-m pytest -p no:cacheprovider -m "not slow" --cov --cov-report=term:skip-covered "$@")
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null; then
  xvfb-run -a -s "-screen 0 1024x768x24" .venv/bin/python "${args[@]}"
else
  .venv/bin/python "${args[@]}"
fi
rc=$?
if [ "$rc" = 5 ]; then echo "test: no test was collected: failing." >&2; exit 1; fi
exit "$rc"
