#!/usr/bin/env bash
# Runs examples/redis_inbox against a redis-server of its own and a SQLite file of its own: the
# producer sends article 1 twice (a retry) and article 2; the worker applies 1 and 2 once. Then,
# the worker restarted, article 2 comes again (a replay) with article 3: only 3 is applied.
# Usage: redis_inbox.sh <redis_inbox>
set -euo pipefail
program=$1
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" || true; rm -rf "$dir"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
url="redis://127.0.0.1:$port/0"

"$program" publish "$url" 1 1 2
"$program" consume "$url" "$dir/worker.db" 2
"$program" publish "$url" 2 3
"$program" consume "$url" "$dir/worker.db" 1
