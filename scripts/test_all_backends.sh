#!/usr/bin/env bash
# Run the test suite once per Keras backend (a process picks its backend at import).
# The three backends run side by side (most tests keep one core busy, and CI has two);
# each one's output is printed whole when it ends.
# Usage: bash scripts/test_all_backends.sh [pytest args...]
set -u
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3
status=0
ruff check keras_history tests scripts || status=1
logs=$(mktemp -d)
pids=()
backends=(${KERAS_HISTORY_BACKENDS:-tensorflow jax torch})
for backend in "${backends[@]}"; do
  KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider "$@" >"$logs/$backend" 2>&1 &
  pids+=($!)
done
for i in "${!backends[@]}"; do
  wait "${pids[$i]}" || status=1
  echo "=== KERAS_BACKEND=${backends[$i]} ==="
  cat "$logs/${backends[$i]}"
done
rm -rf "$logs"
exit $status
