#!/usr/bin/env bash
# Builds the sock classifier if needed (build.sh) and checks it (evaluate.py); exits non-zero on a miss.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/build.sh"
"$here/.venv/bin/python" "$here/evaluate.py" "$@"
