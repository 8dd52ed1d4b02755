#!/usr/bin/env bash
# Runs examples/metrics_host with a redis-server of its own (the host appends its changes to a
# stream that a worker reads back) and a real Prometheus server (its own data directory, loopback ports)
# scraping its /metrics every second; asks Prometheus's HTTP API for beacon's series until they
# hold the host's figures, checks the exposition with promtool, and prints what Prometheus holds.
# Usage: metrics_host.sh <metrics_host> [--keep]   (--keep: leaves both running, for a look at
# Prometheus's page, until Ctrl-C)
set -euo pipefail
program=$1
keep=${2:-}
dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
host_port=$(free_port)
prom_port=$(free_port)
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
redis=$!
host=""
prom=""
trap 'kill $host $prom $redis 2>/dev/null; wait $host $prom $redis 2>/dev/null || true; rm -rf "$dir"' EXIT
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.05; done
"$program" --port "$host_port" --redis "redis://127.0.0.1:$redis_port/0" >"$dir/host.log" 2>&1 &
host=$!
for ((i = 0; i < 200; i++)); do grep -q serving "$dir/host.log" && break; sleep 0.05; done
cat "$dir/host.log"

cat >"$dir/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: metrics_host
    static_configs:
      - targets: ["127.0.0.1:$host_port"]
YAML
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$dir/prometheus.log" 2>&1 &
prom=$!

# The exposition itself passes Prometheus's own linter.
curl -sf "http://127.0.0.1:$host_port/metrics" >"$dir/metrics.txt"
promtool check metrics <"$dir/metrics.txt" && echo "promtool check metrics: $(grep -c '^# TYPE' "$dir/metrics.txt") families, no problem"

# One instant query: "<series> = <value>" per result, sorted.
cat >"$dir/show.py" <<'PY'
import json, sys
for r in sorted(json.load(sys.stdin)["data"]["result"], key=lambda r: sorted(r["metric"].items())):
    m = r["metric"]
    labels = ",".join(k + '="' + v + '"' for k, v in sorted(m.items()) if k not in ("__name__", "instance", "job"))
    print(m.get("__name__", "") + "{" + labels + "} = " + r["value"][1])
PY
query() {
  curl -sf --get "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" | python3 "$dir/show.py"
}
# Prometheus scrapes once a second: wait (at most 30 s) until it holds the host's sends.
expected='beacon_signal_sends_total{namespace="core",signal="resource_changed"} = 25'
# The worker's lag is sampled by its own thread every 100 ms: wait for a sample after its last ack.
settled='beacon_redis_consumer_pending{consumer="indexer-1"} = 0'
for ((i = 0; i < 300; i++)); do
  [ "$(query 'beacon_signal_sends_total' 2>/dev/null)" = "$expected" ] &&
    [ "$(query 'beacon_redis_consumer_pending' 2>/dev/null)" = "$settled" ] && break
  sleep 0.1
done
echo "prometheus (scraped by a real server, asked through its HTTP API):"
query 'beacon_signal_sends_total'
query 'beacon_signal_receiver_calls_total'
query 'beacon_listener_calls_total'
query 'beacon_listener_failures_total'
query 'histogram_quantile(0.5, beacon_listener_duration_seconds_bucket) > 0.001'
query 'beacon_async_delivered_total'
query 'beacon_sse_events_published_total'
query 'beacon_redis_forwarder_published_total'
query 'beacon_redis_forwarder_round_trip_seconds_count'
query 'beacon_redis_consumer_delivered_total'
query 'beacon_redis_consumer_pending'
query 'up'
if [ "$keep" = --keep ]; then
  echo "Prometheus's page: http://127.0.0.1:$prom_port/graph (Ctrl-C stops both)"
  wait $host
fi
