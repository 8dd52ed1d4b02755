#!/usr/bin/env bash
# Runs examples/redis_kinto both ways against a redis-server of its own, with Python (Debian's
# python3-redis) on the other side: a worker written for Kinto's queue reads what beacon pushed,
# then Kinto's own bytes (json.dumps of a payload, as Kinto's listener writes them) pushed with
# redis-cli are read by beacon. Usage: redis_kinto.sh <redis_kinto>
set -euo pipefail
program=$1
python=/usr/bin/python3
dir=$(mktemp -d)
port=$($python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" || true; rm -rf "$dir"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
url="redis://127.0.0.1:$port/0"

"$program" publish "$url"
# A worker as Kinto users write it.
$python - "$port" <<'PY'
import json, sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
_, raw = r.brpop("kinto.core.events", timeout=5)
p = json.loads(raw)
print("python worker:", p["action"], p["resource_name"], p["uri"], "by", p["user_id"], "in", p["collection_id"])
PY
# What Kinto pushes for an anonymous delete, pushed with redis-cli; beacon reads it.
$python -c 'import json, sys; sys.stdout.write(json.dumps({"timestamp": 1453896392123, "action": "delete",
  "uri": "/buckets/blog", "user_id": None, "resource_name": "bucket", "bucket_id": "blog"}))' |
  redis-cli -p "$port" -x LPUSH kinto.core.events >/dev/null
"$program" consume "$url"
