#!/usr/bin/env bash
# Runs examples/outbound_notifier against two servers of its own on loopback: a webhook receiver
# that checks each Standard Webhooks signature with Python's hmac (as a receiver's own code would)
# and prints what it got, and Debian's aiosmtpd debugging server, which prints each message.
# Usage: outbound_notifier.sh <outbound_notifier>
set -euo pipefail
program=$1
dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
hook_port=$(free_port)
smtp_port=$(free_port)
secret="whsec_$(head -c 32 /dev/urandom | base64)"
cat > "$dir/receiver.py" <<'PY'
import base64, hashlib, hmac, http.server, json, sys
key = base64.b64decode(sys.argv[2].removeprefix("whsec_"))
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        signed = b".".join([self.headers["webhook-id"].encode(), self.headers["webhook-timestamp"].encode(), body])
        expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        ok = any(hmac.compare_digest(expected, s) for s in self.headers["webhook-signature"].split())
        event = json.loads(body)["payload"]
        print(f"receiver: {'verified' if ok else 'REFUSED'} {event['action']} {event['uri']}", flush=True)
        self.send_response(204 if ok else 400)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
PY
python3 "$dir/receiver.py" "$hook_port" "$secret" > "$dir/receiver.out" &
receiver=$!
/usr/bin/python3 -m aiosmtpd -n -c aiosmtpd.handlers.Debugging -l "127.0.0.1:$smtp_port" > "$dir/smtp.out" 2>&1 &
smtp=$!
trap 'kill "$receiver" "$smtp" 2>/dev/null; wait "$receiver" "$smtp" 2>/dev/null || true; rm -rf "$dir"' EXIT
until python3 -c "import socket; [socket.create_connection(('127.0.0.1', p)).close() for p in ($hook_port, $smtp_port)]" 2>/dev/null; do
  sleep 0.05
done

"$program" "http://127.0.0.1:$hook_port/hooks" "$secret" "smtp://127.0.0.1:$smtp_port"
sort "$dir/receiver.out"
grep -E "^(Subject|To): " "$dir/smtp.out" | sort | uniq -c | sed 's/^ */smtp: /'
