#!/usr/bin/env bash
# Run the test suite once per Keras backend (a process picks its backend at import).
# Usage: bash scripts/test_all_backends.sh [pytest args...]
set -u
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3
status=0
ruff check keras_history tests scripts || status=1
for backend in ${KERAS_HISTORY_BACKENDS:-tensorflow jax torch}; do
  echo "=== KERAS_BACKEND=$backend ==="
  KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider "$@" || status=1
done
exit $status
