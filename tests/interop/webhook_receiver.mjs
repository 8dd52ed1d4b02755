// A Standard Webhooks receiver built on the reference JS library (npm "standardwebhooks"), the
// peer of beacon's webhook tests: it checks what beacon signs the way a real receiver would.
// Usage: node webhook_receiver.mjs <secret whsec_...> [status plan...]
// Listens on 127.0.0.1 (port 0) and prints "listening <port>" once listening. Each POST is verified
// with new Webhook(secret).verify(body, headers) (which also parses the body as JSON and refuses a
// timestamp more than 5 minutes off): verified, it answers 204 (or the next status of the plan, one
// per request, when given; 204 once the plan runs out) and prints
// {"verified":true,"id":...,"timestamp":...,"body":...}; otherwise it answers 400 and prints
// {"verified":false,"id":...,"error":...}. One JSON line per request on stdout.
// It exits when stdin closes (so a test that spawned it through a pipe stops it) or on SIGTERM.
import { Webhook } from "standardwebhooks";
import { createServer } from "node:http";

const [secret, ...plan] = process.argv.slice(2);
if (!secret) {
  process.stderr.write("usage: node webhook_receiver.mjs <secret whsec_...> [status plan...]\n");
  process.exit(2);
}
const webhook = new Webhook(secret);
const statuses = plan.map(Number);

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const id = req.headers["webhook-id"] ?? null;
    let line;
    let status;
    try {
      if (req.method !== "POST") throw new Error(`method ${req.method}, not POST`);
      webhook.verify(body, req.headers);
      line = { verified: true, id, timestamp: req.headers["webhook-timestamp"] ?? null, body };
      status = statuses.length > 0 ? statuses.shift() : 204;
    } catch (e) {
      line = { verified: false, id, error: String(e?.message ?? e) };
      status = 400;
    }
    process.stdout.write(JSON.stringify(line) + "\n");
    res.writeHead(status).end();
  });
});

server.listen(0, "127.0.0.1", () => process.stdout.write(`listening ${server.address().port}\n`));
process.stdin.on("end", () => process.exit(0));
process.stdin.on("close", () => process.exit(0));
process.stdin.resume();
process.on("SIGTERM", () => process.exit(0));
