// The CloudEvents JS SDK's side of beacon's interop test (tests/interop/cloudevents_interop.cpp
// runs it): reads the CloudEvents beacon wrote, one JSON per line, with the SDK and checks every
// attribute; then writes events with the SDK (HTTP.structured bodies, the SDK's default UUIDv4 ids
// and times) for beacon to read, with what beacon must read from each.
// Usage: node cloudevents_interop.mjs <beacon_events.jsonl> <sdk_events.jsonl> <sdk_expected.jsonl>
// Exits 1 on the first disagreement.
import { CloudEvent, HTTP } from "cloudevents";
import { readFileSync, writeFileSync } from "node:fs";
import assert from "node:assert/strict";

const [beaconFile, sdkFile, expectedFile] = process.argv.slice(2);
const headers = { "content-type": "application/cloudevents+json" };

// What beacon wrote (tests/interop/cloudevents_interop.cpp, beacon_events()).
const common = { specversion: "1.0", source: "/blog-api", type: "core.resource_changed", datacontenttype: "application/json" };
const expected = [
  {
    ...common,
    id: "0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d",
    time: "2026-12-03T07:33:00.123Z",
    subject: "/buckets/blog/collections/articles/records/a1",
    sender: "kinto",
    action: "create",
    resourcename: "record",
    userid: "basicauth:alice",
    cause: "0190b5e4-7f0b-7000-8000-000000000001",
    traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    tracestate: "congo=t61rcWkgMzE",
    data: { data: { bucket_id: "blog", collection_id: "articles", record_id: "a1" }, impacted_records: [{ new: { id: "a1" } }] },
  },
  {
    ...common,
    id: "0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4e",
    time: "2026-12-03T07:33:01.000Z",
    sender: "blog-api",
    data: { data: { title: "Café ☕ naïve — 😀 日本語", tags: ["ü", "ß"] }, impacted_records: [] },
  },
  {
    ...common,
    id: "0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4f",
    time: "2026-12-03T07:33:02.999Z",
    subject: "/buckets/blog/collections/articles/records/a2",
    sender: "kinto",
    action: "update",
    resourcename: "record",
    userid: "basicauth:bob",
    data: {
      data: { bucket_id: "blog", collection_id: "articles", record_id: "a2" },
      impacted_records: [
        { new: { id: "a2", title: "new" }, old: { id: "a2", title: "old" } },
        { old: { id: "a3", last_modified: 1764747180999 } },
      ],
    },
  },
];

const lines = readFileSync(beaconFile, "utf8").split("\n").filter((line) => line.length > 0);
assert.equal(lines.length, expected.length, "the number of events beacon wrote");
lines.forEach((line, i) => {
  // Both ways the SDK reads a structured CloudEvent: HTTP.toEvent, and new CloudEvent(object).
  const received = HTTP.toEvent({ headers, body: line });
  assert.equal(received.validate(), true);
  const constructed = new CloudEvent(JSON.parse(line));
  assert.equal(constructed.validate(), true);
  for (const event of [received, constructed]) {
    const attributes = JSON.parse(JSON.stringify(event));  // the SDK's own JSON form (toJSON)
    assert.deepEqual(attributes, expected[i], `beacon event ${i + 1}`);
  }
  console.log(`sdk: read beacon event ${i + 1}: id=${received.id} type=${received.type} time=${received.time}` +
              ` traceparent=${received.traceparent ?? "-"} data=${JSON.stringify(received.data)}`);
});

// Events the SDK writes, and what beacon must read from each (the beacon::event's fields).
const written = [
  new CloudEvent({ source: "https://example.com/orders", type: "com.example.order.created", data: { order: 42, item: "thé vert 🍵" } }),
  new CloudEvent({
    source: "https://example.com/orders",
    type: "com.example.order.shipped",
    subject: "/orders/42",
    datacontenttype: "application/json",
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    tracestate: "rojo=00f067aa0ba902b7",
    data: { order: 42 },
  }),
  new CloudEvent({
    source: "/shop",
    type: "core.resource_changed",
    sender: "shop",
    action: "delete",
    resourcename: "record",
    userid: "basicauth:carol",
    partitionkey: "orders-1",
    data: { data: { record_id: "r9" }, impacted_records: [{ old: { id: "r9" } }] },
  }),
];
const bodies = [];
const wants = [];
for (const event of written) {
  const message = HTTP.structured(event);
  assert.equal(message.headers["content-type"], "application/cloudevents+json; charset=utf-8");
  bodies.push(message.body);
  const ours = event.data.impacted_records !== undefined;
  const data = ours ? { ...event.data.data } : { ...event.data };
  if (event.partitionkey) data.cloudevents_extensions = { partitionkey: event.partitionkey };
  wants.push({
    id: event.id,
    timestamp: Date.parse(event.time),
    source: event.source,
    type: event.type,
    uri: event.subject ?? "",
    traceparent: event.traceparent ?? "",
    tracestate: event.tracestate ?? "",
    sender: event.sender ?? "",
    action: event.action ?? null,
    resource_name: event.resourcename ?? "",
    user_id: event.userid ?? "",
    data,
    impacted_records: ours ? event.data.impacted_records : [],
  });
  console.log(`sdk: wrote event ${bodies.length}: id=${event.id} type=${event.type} time=${event.time}` +
              ` traceparent=${event.traceparent ?? "-"}`);
}
writeFileSync(sdkFile, bodies.join("\n") + "\n");
writeFileSync(expectedFile, wants.map((w) => JSON.stringify(w)).join("\n") + "\n");
console.log(`sdk: read ${lines.length} beacon events, wrote ${bodies.length}`);
