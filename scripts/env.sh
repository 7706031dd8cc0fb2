#!/usr/bin/env bash
# Make sure the project's virtual environment exists, then print its path.
#
# The venv lives outside the clone (LRKIT_HOME, default ~/.cache/lrkit), keyed by
# a hash of the pinned requirement files and the Python version, so CI and several
# clones on one machine share it while a change of pins builds a new one. A venv
# whose install did not finish has no marker file and is rebuilt from nothing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
home="${LRKIT_HOME:-$HOME/.cache/lrkit}"
py="${PYTHON:-python3}"
command -v "$py" >/dev/null || { echo "lrkit: $py not found; install Python 3.11 or set PYTHON=/path/to/python3.11" >&2; exit 1; }

key=$( { cat "$root/requirements.txt" "$root/lrkit/core/requirements-assets.txt"; "$py" -c 'import sys; print(sys.version_info[:2])'; } | sha256sum | cut -c1-16)
venv="$home/venv-$key"
mkdir -p "$home"

exec 9>"$home/venv-$key.lock"
flock 9   # two runs at once wait for each other instead of installing twice
if [ ! -f "$venv/.lrkit-complete" ]; then
  echo "lrkit: creating the environment in $venv (first run only, a few minutes)" >&2
  rm -rf "$venv"
  "$py" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/requirements.txt" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --require-hashes \
      -r "$root/lrkit/core/requirements-assets.txt" >&2
  touch "$venv/.lrkit-complete"
fi
echo "$venv"
