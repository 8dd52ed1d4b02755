#!/usr/bin/env bash
# Runs examples/outbox_stream against a redis-server of its own, with SQLite files of its own: the
# store commits three articles (a draft is vetoed) and its relay publishes them to a Redis stream;
# the worker applies them; then the first entry is appended again (what a relay killed after
# publishing and before deleting does), and the worker, restarted, drops it through its inbox.
# Usage: outbox_stream.sh <outbox_stream>
set -euo pipefail
program=$1
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" || true; rm -rf "$dir"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
url="redis://127.0.0.1:$port/0"

"$program" store "$url" "$dir/store.db" "Hello" "draft: not yet" "World"
"$program" worker "$url" "$dir/worker.db" 2
event=$(redis-cli -p "$port" --raw XRANGE beacon.stream - + COUNT 1 | sed -n 3p)
redis-cli -p "$port" XADD beacon.stream '*' event "$event" >/dev/null
echo "replay: the first entry appended again"
"$program" worker "$url" "$dir/worker.db" 1
