#!/usr/bin/env python3
"""subscribe.py: follow a Praxis service's event stream from another system
(a reminder sender, a warehouse loader) without losing or repeating events.

    protoc --python_out=. -I proto proto/pm.proto proto/patients.proto
    PM_KEYS_DIR=./var/keys PM_IDENTITY=warehouse ./examples/subscribe.py patients

It authenticates with CURVE as principal $PM_IDENTITY (make one with
`pmctl keys add warehouse --role service`), subscribes to the whole
"<service>." prefix, catches up from its cursor with pm.EventsRead, then
applies live events in seq order, reading again on any gap or when a
heartbeat shows the stream ahead. A real consumer stores `cursor` (and
`stream_id`) in the same transaction as what it does with each event; a
new stream_id means the producer's store was replaced: start over from 1.
"""
import os
import sys
import zmq

import pm_pb2
import patients_pb2

PORTS = {"patients": 7101, "scheduling": 7201, "staffing": 7301,
         "recruitment": 7401, "finance": 7501}


def load_cert(path):
    """Reads a czmq certificate file: its z85 public and secret keys."""
    keys = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            for name in ("public-key", "secret-key"):
                if line.startswith(name):
                    keys[name] = line.split("=", 1)[1].strip().strip('"').encode()
    return keys


def main():
    service = sys.argv[1] if len(sys.argv) > 1 else "patients"
    limit = int(os.environ.get("SUBSCRIBE_COUNT", "0"))  # 0: run for ever
    up = service.upper()
    commands = os.environ.get(f"PM_{up}_ENDPOINT", f"tcp://127.0.0.1:{PORTS[service]}")
    events = os.environ.get(f"PM_{up}_EVENTS", f"tcp://127.0.0.1:{PORTS[service] + 1}")
    keys_dir = os.environ.get("PM_KEYS_DIR", "./var/keys")
    me = load_cert(f"{keys_dir}/secret/{os.environ.get('PM_IDENTITY', 'admin')}.cert_secret")
    server = load_cert(f"{keys_dir}/public/svc-{service}.cert")

    ctx = zmq.Context()

    def curve(sock):
        sock.curve_publickey = me["public-key"]
        sock.curve_secretkey = me["secret-key"]
        sock.curve_serverkey = server["public-key"]
        return sock

    sub = curve(ctx.socket(zmq.SUB))
    sub.setsockopt_string(zmq.SUBSCRIBE, service + ".")   # heartbeats included
    sub.connect(events)
    dealer = curve(ctx.socket(zmq.DEALER))
    dealer.connect(commands)
    request_id = 0

    def catch_up(cursor):
        """Reads pm.EventsRead pages from cursor + 1 to the stream's end."""
        nonlocal request_id
        while True:
            request_id += 1
            req = pm_pb2.Request(client_id="subscribe.py", request_id=request_id,
                                 type="pm.EventsRead",
                                 body=pm_pb2.EventsRead(from_seq=cursor + 1).SerializeToString())
            dealer.send(req.SerializeToString())
            if not dealer.poll(5000):
                raise SystemExit("no answer from " + commands)
            reply = pm_pb2.Reply.FromString(dealer.recv())
            if reply.code != pm_pb2.OK:
                raise SystemExit(f"refused: {pm_pb2.Code.Name(reply.code)}: {reply.message}")
            batch = pm_pb2.EventBatch.FromString(reply.body)
            for event in batch.events:
                if event.seq == cursor + 1:
                    cursor = apply(event)
            if not batch.events or cursor >= batch.high_seq:
                return cursor

    seen = 0

    def apply(event):
        nonlocal seen
        line = f"{event.seq} {event.type} {event.subject}"
        if event.type.startswith("patients.patient."):
            p = patients_pb2.Patient.FromString(event.data)
            line += f" {p.name.family} v{p.version}"
        print(line, flush=True)
        seen += 1
        if limit and seen >= limit:
            raise SystemExit(0)
        return event.seq

    cursor = catch_up(0)
    while True:
        if not sub.poll(3000):
            continue
        topic, payload = sub.recv_multipart()
        if topic.endswith(b".$heartbeat"):
            if pm_pb2.Heartbeat.FromString(payload).high_seq > cursor:
                cursor = catch_up(cursor)
            continue
        event = pm_pb2.Event.FromString(payload)
        if event.seq == cursor + 1:
            cursor = apply(event)
        elif event.seq > cursor + 1:
            cursor = catch_up(cursor)          # a gap: read what was missed


if __name__ == "__main__":
    main()
