#!/usr/bin/env bash
# Creates .venv with the library (editable) and the dev tools. Called by `make setup`.
#
# torch is the one heavy dependency. If the TORCH variable is set, it is passed to pip as is
# (e.g. TORCH="torch==2.5.1"). Otherwise, when one of pip's find-links folders already holds a
# CPU build of torch for this Python, that build is used (a wheelhouse install takes seconds, and a
# plain `pip install torch` on Linux would fetch a CUDA build of several GB). Otherwise pip
# resolves torch from pyproject.toml's lower bound, as it would for any user.
set -euo pipefail
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
pip_install() {  # quiet, minus the warnings a machine's pip config may print about missing index folders
  "$VENV/bin/python" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  torch_req=${TORCH:-}
  if [ -z "$torch_req" ]; then
    tag=$("$VENV/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    links=$("$VENV/bin/python" -m pip config get global.find-links 2>/dev/null || true)
    for dir in ${PIP_FIND_LINKS:-} $links; do
      wheel=$(ls "$dir"/torch-*+cpu-"$tag"-*.whl 2>/dev/null | sort -V | tail -n 1 || true)
      if [ -n "$wheel" ]; then
        version=$(basename "$wheel" | cut -d- -f2 | cut -d+ -f1)
        torch_req="torch==$version"
        break
      fi
    done
  fi
  if [ -n "$torch_req" ]; then
    echo "setup: installing $torch_req"
    pip_install "$torch_req"
  fi
fi

echo "setup: installing superpose_lib (editable) with the dev and web tools"
pip_install -e ".[dev,web]"
"$VENV/bin/python" -c "import superpose_lib, torch; print(f'setup: ready (superpose_lib {superpose_lib.__version__}, torch {torch.__version__})')"
