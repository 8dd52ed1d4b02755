"""web_bench's Python peer, written the way Flask-Notifications serves a hub: Flask on gevent's
WSGI server, each SSE request subscribing to Redis pub/sub and a generator yielding every
message as an SSE frame. Usage: web_peer.py REDIS_PORT; prints "PID PORT", serves until killed."""
import gevent.monkey

gevent.monkey.patch_all()

import os  # noqa: E402
import sys  # noqa: E402

import redis  # noqa: E402
from flask import Flask, Response  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

app = Flask(__name__)
broker = redis.StrictRedis(host="127.0.0.1", port=int(sys.argv[1]))


@app.route("/events")
def events():
    pubsub = broker.pubsub()
    pubsub.subscribe("bench.peer")

    def stream():
        for message in pubsub.listen():
            if message["type"] == "message":
                yield b"data: " + message["data"] + b"\n\n"

    return Response(stream(), mimetype="text/event-stream")


server = WSGIServer(("127.0.0.1", 0), app, log=None, backlog=4096)
server.start()
print(os.getpid(), server.server_port, flush=True)
server.serve_forever()
