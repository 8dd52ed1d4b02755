#!/usr/bin/env bash
# Runs the two-process Redis example as CTest does: a redis-server of its own on a free loopback
# port, the worker started first in the background, then the producer; prints both outputs.
# Usage: redis_pair.sh <redis_producer> <redis_worker>
set -euo pipefail
producer=$1
worker=$2
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
server=$!
worker_pid=""
trap 'kill $worker_pid "$server" 2>/dev/null; wait "$server" || true; rm -rf "$dir"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done

url="redis://127.0.0.1:$port/0"
"$worker" "$url" 2 >"$dir/worker.out" 2>&1 &
worker_pid=$!
"$producer" "$url"
wait "$worker_pid"
worker_pid=""
cat "$dir/worker.out"
