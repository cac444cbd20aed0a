#!/usr/bin/env bash
# MQTT -> Kafka throughput of a release `sluice`, printed as figures (not a test), beside two
# limits measured in the same run on the same brokers:
#   raw_mqtt:  a plain rumqttc subscriber (acks at once) receiving from a concurrent publisher;
#   raw_kafka: a plain rdkafka producer with a source task's producer settings (acks=all,
#              one request in flight, linger.ms=5), 100-byte values and a short key, no headers.
# The sluice figure runs from the first publish until Kafka has acknowledged the message count
# (the worker's source_record_write counter; a consumer then checks the topic, off the clock)
# (QoS 1: persistent session, every PUBACK waits for Kafka's acknowledgement).
# ratio = sluice / min(raw_mqtt, raw_kafka); the issue's target is >= 0.8.
#
# Tansu (in-memory storage) and Mosquitto are private to the run (scripts/lib/bench-brokers.sh,
# state under .run/bench-mqtt); Mosquitto has unlimited in-flight and queued messages.
#
# Besides the rates it prints the worker's CPU time per record of each run (user + system, from
# /proc), which the other processes sharing the machine do not distort as much as the rates.
#
# Usage: scripts/bench-mqtt.sh [messages per run, default 1000000] [payload bytes, default 100]
# (runs of a million messages take a few seconds each: shorter ones are swayed by warm-up and tail)
# (BENCH_PROFILE=debug runs debug builds, to check the script quickly; figures need release.
# BENCH_THREADS=1 prints, per thread of the worker active during each Sluice run, its CPU time,
# its wait for a core and how often it slept. BENCH_WORKER_PROPS adds lines to the worker's
# properties, e.g. BENCH_WORKER_PROPS=producer.linger.ms=20 to try a producer setting.
# BENCH_PERF=1 records a `perf record -g` profile of the worker during each sluice run into
# .run/bench-mqtt/perf-q<QOS>.data, for `perf report -i ...`; BENCH_PERF_CALL_GRAPH=dwarf gives
# call stacks for a build with debug line tables, which release builds strip.)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
count=${1:-1000000}
size=${2:-100}
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
scripts/install-deps.sh >/dev/null
profile=${BENCH_PROFILE:-release}
cargo_profile=(--release)
[[ $profile == debug ]] && cargo_profile=()
[[ -z ${SLUICE_BIN:-} ]] && cargo build "${cargo_profile[@]}" --bin sluice 2>/dev/null
cargo build "${cargo_profile[@]}" -p sluice-tests --example mqtt_bench 2>/dev/null
bench="$root/target/$profile/examples/mqtt_bench"
# SLUICE_BIN runs another build of the worker (e.g. an older commit's, for a before/after).
sluice=${SLUICE_BIN:-"$root/target/$profile/sluice"}
work="$root/.run/bench-mqtt"
rm -rf "$work" && mkdir -p "$work"
source scripts/lib/bench-brokers.sh
rest_port=$(bench_free_port)
mqtt_port=$(bench_free_port)
kafka_port=$(bench_free_port)
KAFKA_BOOTSTRAP=127.0.0.1:$kafka_port
pid=
perf_pid=
BENCH_TANSU_PID=
BENCH_MOSQUITTO_PID=
# CPU time (user + system) of a process so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Time the process's threads spent runnable but waiting for a core, in nanoseconds (the second
# field of each thread's schedstat): how much the processes sharing the machine delay it.
run_wait_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $2} END {printf "%.0f\n", s}'; }
# Per thread of a process: id, name, CPU ticks, nanoseconds waited for a core, voluntary context
# switches (times it slept) (BENCH_THREADS=1).
thread_stats() {
    local t
    for t in /proc/"$1"/task/*; do
        echo "${t##*/} $(tr ' ' '_' < "$t/comm") $(sed 's/^.*) //' "$t/stat" | awk '{print $12 + $13}') $(awk '{print $2}' "$t/schedstat") $(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")"
    done
}
cleanup() {
    [[ -n $perf_pid ]] && kill -INT "$perf_pid" 2>/dev/null && wait "$perf_pid" 2>/dev/null || true
    bench_stop "$pid" "$BENCH_MOSQUITTO_PID" "$BENCH_TANSU_PID"
}
trap cleanup EXIT
bench_start_tansu "$work" "$kafka_port"
bench_start_mosquitto "$work" "$mqtt_port"
tansu_pid=$BENCH_TANSU_PID
mosquitto_pid=$BENCH_MOSQUITTO_PID

# The connector's topics exist before it starts (one record each), as in a prepared deployment.
for qos in 0 1; do
    "$bench" raw-kafka "$KAFKA_BOOTSTRAP" "bench_mqtt_q$qos" 1 "$size" >/dev/null
done

cat > "$work/worker.properties" <<PROPS
bootstrap.servers=$KAFKA_BOOTSTRAP
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.converters.ByteArrayConverter
offset.storage.file.filename=$work/connect.offsets
listeners=http://127.0.0.1:$rest_port
${BENCH_WORKER_PROPS:-}
PROPS
for qos in 0 1; do
    cat > "$work/q$qos.properties" <<PROPS
name=bench-q$qos
connector.class=io.confluent.connect.mqtt.MqttSourceConnector
tasks.max=1
mqtt.server.uri=tcp://127.0.0.1:$mqtt_port
mqtt.topics=bench/q$qos
mqtt.qos=$qos
mqtt.clean.session.enabled=$([[ $qos == 1 ]] && echo false || echo true)
kafka.topic=bench_mqtt_q$qos
PROPS
done
"$sluice" standalone "$work/worker.properties" "$work/q0.properties" "$work/q1.properties" > "$work/worker.log" 2>&1 &
pid=$!
for qos in 0 1; do
    until curl -sf "http://127.0.0.1:$rest_port/connectors/bench-q$qos/status" 2>/dev/null |
        python3 -c 'import json, sys; s = json.load(sys.stdin); sys.exit(0 if [t["state"] for t in s["tasks"]] == ["RUNNING"] else 1)' 2>/dev/null; do
        kill -0 "$pid" || { echo "bench-mqtt: the worker exited; see $work/worker.log" >&2; exit 1; }
        sleep 0.1
    done
done
sleep 2 # subscriptions follow the connection

echo "profile: $profile"
echo "messages_per_run: $count"
echo "payload_bytes: $size"
# The value of `key: value` in mqtt_bench's output.
field() { awk -v key="$1:" '$1 == key {print $2}'; }
raw_kafka=$("$bench" raw-kafka "$KAFKA_BOOTSTRAP" bench_raw_kafka "$count" "$size" | field raw-kafka_records_per_second)
echo "raw_kafka_records_per_second: $raw_kafka"
for qos in 0 1; do
    raw_mosquitto_before=$(cpu_ticks "$mosquitto_pid")
    raw_out=$("$bench" raw-mqtt "$mqtt_port" "$qos" "$count" "$size")
    raw_mqtt=$(field raw-mqtt_records_per_second <<<"$raw_out")
    raw_mosquitto_after=$(cpu_ticks "$mosquitto_pid")
    # A short warm-up creates the Kafka topic and the producer's connections.
    "$bench" sluice "$mqtt_port" "$qos" 1000 "$size" "$KAFKA_BOOTSTRAP" "bench_mqtt_q$qos" "http://127.0.0.1:$rest_port/metrics" "bench-q$qos" >/dev/null
    if [[ ${BENCH_PERF:-0} == 1 ]]; then
        perf record --call-graph "${BENCH_PERF_CALL_GRAPH:-fp}" -o "$work/perf-q$qos.data" -p "$pid" >/dev/null 2>&1 &
        perf_pid=$!
        sleep 0.5
    fi
    [[ ${BENCH_THREADS:-0} == 1 ]] && thread_stats "$pid" > "$work/threads-before-q$qos"
    ticks_before=$(cpu_ticks "$pid")
    waits_before=($(run_wait_ns "$pid") $(run_wait_ns "$mosquitto_pid") $(run_wait_ns "$tansu_pid"))
    tansu_before=$(cpu_ticks "$tansu_pid")
    mosquitto_before=$(cpu_ticks "$mosquitto_pid")
    sluice_out=$("$bench" sluice "$mqtt_port" "$qos" "$count" "$size" "$KAFKA_BOOTSTRAP" "bench_mqtt_q$qos" "http://127.0.0.1:$rest_port/metrics" "bench-q$qos")
    sluice=$(field sluice_records_per_second <<<"$sluice_out")
    ticks_after=$(cpu_ticks "$pid")
    [[ ${BENCH_THREADS:-0} == 1 ]] && thread_stats "$pid" > "$work/threads-after-q$qos"
    waits_after=($(run_wait_ns "$pid") $(run_wait_ns "$mosquitto_pid") $(run_wait_ns "$tansu_pid"))
    tansu_after=$(cpu_ticks "$tansu_pid")
    mosquitto_after=$(cpu_ticks "$mosquitto_pid")
    if [[ -n $perf_pid ]]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        perf_pid=
    fi
    limit=$(( raw_mqtt < raw_kafka ? raw_mqtt : raw_kafka ))
    echo "qos${qos}_raw_mqtt_records_per_second: $raw_mqtt"
    echo "qos${qos}_sluice_records_per_second: $sluice"
    echo "qos${qos}_ratio_to_smaller_limit: $(awk "BEGIN {printf \"%.2f\", $sluice / $limit}")"
    us_per_record() { awk "BEGIN {printf \"%.1f\", ($2 - $1) * 1000000 / $(getconf CLK_TCK) / $count}"; }
    echo "qos${qos}_sluice_cpu_us_per_record: $(us_per_record "$ticks_before" "$ticks_after")"
    echo "qos${qos}_tansu_cpu_us_per_record: $(us_per_record "$tansu_before" "$tansu_after")"
    echo "qos${qos}_mosquitto_cpu_us_per_record: $(us_per_record "$mosquitto_before" "$mosquitto_after")"
    # Mosquitto's cost per message when the raw subscriber reads: what the limit's run paid.
    echo "qos${qos}_mosquitto_cpu_us_per_record_raw_run: $(us_per_record "$raw_mosquitto_before" "$raw_mosquitto_after")"
    # How many of the machine's cores were busy (every process) while each run's clock ran.
    echo "qos${qos}_cores_busy_raw_mqtt_run: $(field cores_busy <<<"$raw_out") of $(nproc)"
    echo "qos${qos}_cores_busy_sluice_run: $(field cores_busy <<<"$sluice_out") of $(nproc)"
    for i in 0 1 2; do
        name=(worker mosquitto tansu)
        echo "qos${qos}_sluice_run_${name[$i]}_waited_for_a_core_ms: $(( (waits_after[i] - waits_before[i]) / 1000000 ))"
    done
    echo "qos${qos}_sluice_mean_poll_batch: $(field mean_poll_batch <<<"$sluice_out")"
    if [[ ${BENCH_THREADS:-0} == 1 ]]; then
        join "$work/threads-before-q$qos" "$work/threads-after-q$qos" |
            awk -v q="$qos" -v tck="$(getconf CLK_TCK)" '$7 > $3 || $9 > $5 {
                printf "qos%s_sluice_thread: %s cpu_ms=%d waited_for_a_core_ms=%d sleeps=%d\n", q, $2, ($7 - $3) * 1000 / tck, ($8 - $4) / 1e6, $9 - $5 }'
    fi
done
echo "sluice_peak_rss_mib: $(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$pid/status")"
