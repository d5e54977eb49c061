#!/usr/bin/python3
# The Kubernetes API stand-in for bench/client-go-health.mjs: just enough of
# an apiserver, over TLS with ALPN h2, for `kubectl get configmaps -w` of
# kubectl 1.20 and newer (legacy discovery, which newer clients fall back to,
# a list and a watch that sends a MODIFIED event every 100 ms). client-go's
# health check only fires on an HTTP/2 connection, hence the h2 library
# rather than http.server. Tells the bench on stdout, one JSON object a line,
# when it listens and which client opened each watch.
#   python3 h2-apiserver.py CERT KEY ADDRESS PORT [PORT...]
import json
import select
import socket
import ssl
import sys
import threading
import time
from urllib.parse import parse_qs

import h2.config
import h2.connection
import h2.events

EVENT_INTERVAL_S = 0.1
# The Google Cloud SDK's kubectl (/usr/bin/kubectl on some machines) is a
# dispatcher: it asks for the server's version first, and runs its own client
# for a server within its skew, another release of kubectl otherwise.
VERSION = {'major': '1', 'minor': '32', 'gitVersion': 'v1.32.5', 'platform': 'linux/amd64'}

CONFIGMAPS = {
    'name': 'configmaps', 'singularName': 'configmap', 'namespaced': True, 'kind': 'ConfigMap',
    'verbs': ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], 'shortNames': ['cm'],
}
STATIC = {
    '/version': VERSION,
    '/api': {'kind': 'APIVersions', 'versions': ['v1']},
    '/apis': {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': []},
    '/api/v1': {'kind': 'APIResourceList', 'groupVersion': 'v1', 'resources': [CONFIGMAPS]},
}
LIST_PATH = '/api/v1/namespaces/default/configmaps'
# The bench tells kubectl's event lines by it.
NAME = 'khabench'

out_lock = threading.Lock()


def tell(**fields):
    with out_lock:
        sys.stdout.write(json.dumps(fields) + '\n')
        sys.stdout.flush()


def configmap(rv):
    return {
        'kind': 'ConfigMap', 'apiVersion': 'v1',
        'metadata': {'name': NAME, 'namespace': 'default', 'uid': '6b1d6c2e-0000-4000-8000-000000000001',
                     'resourceVersion': str(rv), 'creationTimestamp': '2026-01-01T00:00:00Z'},
        'data': {'n': str(rv)},
    }


def body(obj):
    return json.dumps(obj).encode()


class Connection:
    def __init__(self, sock, port):
        self.sock = sock
        self.port = port
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding='utf-8'))
        self.watches = set()
        self.rv = 1000

    def respond(self, stream_id, status, data):
        self.h2.send_headers(stream_id, [(':status', str(status)), ('content-type', 'application/json')])
        self.h2.send_data(stream_id, data, end_stream=True)

    def request(self, event):
        headers = dict(event.headers)
        path, _, query = headers.get(':path', '').partition('?')
        sid = event.stream_id
        if path in STATIC:
            self.respond(sid, 200, body(STATIC[path]))
        elif path == LIST_PATH and parse_qs(query).get('watch') in (['true'], ['1']):
            tell(port=self.port, watch=True, userAgent=headers.get('user-agent', ''))
            self.h2.send_headers(sid, [(':status', '200'), ('content-type', 'application/json')])
            self.watches.add(sid)
        elif path == LIST_PATH:
            self.respond(sid, 200, body({'kind': 'ConfigMapList', 'apiVersion': 'v1', 'metadata': {'resourceVersion': str(self.rv)}, 'items': [configmap(self.rv)]}))
        else:
            self.respond(sid, 404, body({'kind': 'Status', 'apiVersion': 'v1', 'status': 'Failure', 'reason': 'NotFound', 'code': 404}))

    def tick(self):
        self.rv += 1
        line = body({'type': 'MODIFIED', 'object': configmap(self.rv)}) + b'\n'
        for sid in list(self.watches):
            if self.h2.local_flow_control_window(sid) >= len(line):
                self.h2.send_data(sid, line)

    def serve(self):
        self.h2.initiate_connection()
        self.flush()
        next_tick = time.monotonic() + EVENT_INTERVAL_S
        while True:
            readable, _, _ = select.select([self.sock], [], [], max(0, next_tick - time.monotonic()))
            # TLS may hold decrypted bytes that select cannot see.
            if readable or self.sock.pending():
                data = self.sock.recv(65536)
                if not data:
                    return
                for event in self.h2.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        self.request(event)
                    elif isinstance(event, h2.events.StreamReset):
                        self.watches.discard(event.stream_id)
                    elif isinstance(event, h2.events.DataReceived):
                        self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        return
            if time.monotonic() >= next_tick:
                self.tick()
                next_tick += EVENT_INTERVAL_S
            # PING acknowledgements are queued by receive_data and leave here.
            self.flush()

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)


def handle(raw, context, port):
    try:
        with context.wrap_socket(raw, server_side=True) as sock:
            Connection(sock, port).serve()
    except (OSError, ssl.SSLError):
        # The bench cuts paths on purpose: a dead connection is the point, not an error.
        pass


def accept(server, context, port):
    while True:
        raw, _ = server.accept()
        threading.Thread(target=handle, args=(raw, context, port), daemon=True).start()


def main():
    cert, key, address, *ports = sys.argv[1:]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(['h2'])
    for port in map(int, ports):
        server = socket.create_server((address, port), backlog=64)
        threading.Thread(target=accept, args=(server, context, port), daemon=True).start()
    tell(listening=[int(p) for p in ports])
    threading.Event().wait()


if __name__ == '__main__':
    main()
