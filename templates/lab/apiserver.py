#!/usr/bin/python3
"""kube-apiserver stand-in for kha's lab.

A TLS server that answers /healthz, /readyz, /livez ("ok") and /version
(JSON) like kube-apiserver does, and names the master that answered in an
X-Kha-Lab-Master header, so a client behind the VIP can tell which backend
served it. /watch streams an event every 100 ms for as long as the client
stays, chunked as a real watch is: the long-lived connection the drills hold
through a failover. asyncio: a slow, silent or half-open client only holds its own
coroutine; a TCP check that connects and closes costs a failed handshake,
never the server.

A client that asks for HTTP/2 by ALPN (kubectl, a kubelet: any client-go)
gets it, as from kube-apiserver: the same routes, and a watch as DATA frames
on its stream. client-go's own health check (a PING after a silent spell)
runs only on HTTP/2, so only then does a real client behave through the VIP
as it would in a cluster. Everything else (haproxy's check-ssl, the drills'
clients, curl --http1.1) gets HTTP/1.1 exactly as before.

/api/v1/namespaces/{ns}/configmaps is a small ConfigMap API (create, get,
list, merge patch, delete, watch; with /api, /apis and /api/v1 for kubectl's
discovery), so that a drill can hold a real Kubernetes watch, kubectl with a
kubeconfig as against a cluster, through the VIP, and see from the events
whether a change was missed. Each master keeps its own ConfigMaps, in memory:
kha's writer writes to every master's stand-in, so a watch sees the same
changes whichever master serves it. A bearer token starting with
"kha-forbidden" is refused (403), as credentials that do not allow it are.
"""
import argparse
import asyncio
import collections
import datetime
import json
import re
import signal
import socket
import ssl
import urllib.parse
import uuid

try:
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
    import h2.exceptions
except ImportError:
    # A machine without python3-h2 still serves everything over HTTP/1.1.
    h2 = None

HANDSHAKE_TIMEOUT = 10
IDLE_TIMEOUT = 30
# How long a stopping stand-in lets the requests under way finish. kube-apiserver
# drains its in-flight requests before it exits; a stand-in that dropped them
# cut requests in flight through every haproxy when its master rebooted.
DRAIN_TIMEOUT = 1
WATCH_EVERY = 0.1
MAX_HEADER_BYTES = 16384
MAX_BODY_BYTES = 1 << 20
# Changes a watch from a given resourceVersion can be replayed from; an older
# one gets 410 Gone, as from kube-apiserver once etcd has compacted.
HISTORY = 1000
# A handshake record of SSL 3.0: haproxy's `option ssl-hello-chk` (the kubeadm
# guide's check) sends one and counts any alert as a live server.
SSLV3_HELLO = b"\x16\x03\x00"
# kube-apiserver (Go's crypto/tls) answers it with a fatal protocol_version
# alert in a TLS 1.0 record. asyncio's TLS drops the alert OpenSSL makes (it
# aborts the transport on a failed handshake), so the stand-in sends it itself.
PROTOCOL_VERSION_ALERT = b"\x15\x03\x01\x00\x02\x02\x46"


def build_response(name, status, body, ctype, keep_alive):
    reason = {
        200: "OK",
        201: "Created",
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        409: "Conflict",
        410: "Gone",
        413: "Request Entity Too Large",
        415: "Unsupported Media Type",
        422: "Unprocessable Entity",
    }.get(status, "OK")
    head = [
        f"HTTP/1.1 {status} {reason}",
        f"Content-Type: {ctype}",
        f"Content-Length: {len(body)}",
        f"X-Kha-Lab-Master: {name}",
        "Cache-Control: no-cache, private",
        "Connection: " + ("keep-alive" if keep_alive else "close"),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def as_json(obj):
    return json.dumps(obj).encode()


def route(name, path):
    path = path.split("?", 1)[0]
    if path in ("/healthz", "/readyz", "/livez"):
        return 200, b"ok", "text/plain; charset=utf-8"
    # Discovery: kubectl's create, patch and delete look the resource up first.
    if path == "/api":
        return 200, as_json({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}), "application/json"
    if path == "/apis":
        return 200, as_json({"kind": "APIGroupList", "apiVersion": "v1", "groups": []}), "application/json"
    if path == "/api/v1":
        resource = {
            "name": "configmaps",
            "singularName": "configmap",
            "namespaced": True,
            "kind": "ConfigMap",
            "verbs": ["create", "delete", "get", "list", "patch", "watch"],
            "shortNames": ["cm"],
        }
        return 200, as_json({"kind": "APIResourceList", "groupVersion": "v1", "resources": [resource]}), "application/json"
    if path == "/version":
        body = json.dumps(
            {
                "major": "1",
                "minor": "30",
                "gitVersion": "v1.30.0-kha-lab",
                "platform": "linux/amd64",
                "khaLabMaster": name,
            },
            indent=2,
        ).encode()
        return 200, body, "application/json"
    body = json.dumps({"kind": "Status", "status": "Failure", "code": 404, "message": "not found"}).encode()
    return 404, body, "application/json"


CONFIGMAPS = re.compile(r"/api/v1/namespaces/([^/]+)/configmaps(?:/([^/]+))?")
VERBS = {"POST": "create", "PATCH": "patch", "DELETE": "delete"}
MERGE_PATCHES = ("application/merge-patch+json", "application/strategic-merge-patch+json")


def failure(code, reason, message, name=None):
    """A failure as kube-apiserver words it, which kubectl prints as it would a cluster's."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason}
    if name is not None:
        body["details"] = {"name": name, "kind": "configmaps"}
    body["code"] = code
    return code, as_json(body), "application/json"


def watch_line(kind, obj):
    return as_json({"type": kind, "object": obj}) + b"\n"


class Watch:
    """One watch's events, queued as JSON lines for whichever protocol streams them."""

    def __init__(self, store, namespace, name):
        self.store = store
        self.namespace = namespace
        self.name = name
        self.queue = asyncio.Queue()
        store.watches.add(self)

    def offer(self, kind, obj):
        meta = obj["metadata"]
        if meta["namespace"] == self.namespace and self.name in (None, meta["name"]):
            self.queue.put_nowait(watch_line(kind, obj))

    async def next(self):
        return await self.queue.get()

    def close(self):
        self.store.watches.discard(self)


class ConfigMaps:
    """This master's ConfigMaps. Each object is replaced on a change, never altered, so
    that what a watch or the history holds stays as it was sent."""

    def __init__(self):
        self.objects = {}
        self.version = 0
        self.history = collections.deque(maxlen=HISTORY)
        self.watches = set()

    def change(self, kind, obj, data):
        self.version += 1
        meta = dict(obj["metadata"], resourceVersion=str(self.version))
        new = dict(obj, metadata=meta, data=data)
        key = (meta["namespace"], meta["name"])
        if kind == "DELETED":
            del self.objects[key]
        else:
            self.objects[key] = new
        self.history.append((self.version, kind, new))
        for watch in list(self.watches):
            watch.offer(kind, new)
        return new

    def handle(self, method, namespace, name, query, headers, body):
        """(status, body, content type), or a Watch to stream."""
        collection = name is None
        watching = method == "GET" and query.get("watch", [""])[0] in ("1", "true")
        if method == "GET":
            verb = "watch" if watching else "list" if collection else "get"
        else:
            verb = VERBS.get(method)
        allowed = ("create", "list", "watch") if collection else ("get", "patch", "delete")
        if verb not in allowed:
            return failure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        token = headers.get("authorization", "")
        if token.lower().startswith("bearer ") and token[7:].strip().startswith("kha-forbidden"):
            what = "configmaps" if collection or verb == "create" else f'configmaps "{name}"'
            return failure(
                403,
                "Forbidden",
                f'{what} is forbidden: User "kha-forbidden" cannot {verb} resource "configmaps" in API group "" in the namespace "{namespace}"',
                None if collection else name,
            )
        if body is None:
            return failure(413, "RequestEntityTooLarge", "the request body is too large")
        if collection and verb in ("list", "watch"):
            return self.read_collection(namespace, query, watching)
        if verb == "create":
            return self.create(namespace, body)
        current = self.objects.get((namespace, name))
        if current is None:
            return failure(404, "NotFound", f'configmaps "{name}" not found', name)
        if verb == "get":
            return 200, as_json(current), "application/json"
        if verb == "delete":
            gone = self.change("DELETED", current, current["data"])
            done = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
            done["details"] = {"name": name, "kind": "configmaps", "uid": gone["metadata"]["uid"]}
            return 200, as_json(done), "application/json"
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in MERGE_PATCHES:
            return failure(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: {', '.join(MERGE_PATCHES)}")
        try:
            patch = json.loads(body)
            if not isinstance(patch, dict) or not isinstance(patch.get("data", {}), (dict, type(None))):
                raise ValueError("not a ConfigMap's patch")
        except ValueError as e:
            return failure(400, "BadRequest", f"error decoding patch: {e}")
        data = dict(current["data"])
        if "data" in patch and patch["data"] is None:
            data = {}
        for key, value in (patch.get("data") or {}).items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = str(value)
        # A patch that changes nothing is no change, with no new resourceVersion, as in Kubernetes.
        if data != current["data"]:
            current = self.change("MODIFIED", current, data)
        return 200, as_json(current), "application/json"

    def create(self, namespace, body):
        try:
            obj = json.loads(body or b"{}")
            meta = obj.get("metadata") or {}
            data = obj.get("data") or {}
            if not isinstance(meta, dict) or not isinstance(data, dict):
                raise ValueError("not a ConfigMap")
        except (ValueError, AttributeError) as e:
            return failure(400, "BadRequest", f"error decoding the ConfigMap: {e}")
        name = meta.get("name")
        if not name:
            return failure(422, "Invalid", 'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required')
        if meta.get("namespace", namespace) != namespace:
            return failure(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
        if (namespace, name) in self.objects:
            return failure(409, "AlreadyExists", f'configmaps "{name}" already exists', name)
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta = {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "creationTimestamp": now}
        obj = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta}
        return 201, as_json(self.change("ADDED", obj, {k: str(v) for k, v in data.items()})), "application/json"

    def read_collection(self, namespace, query, watching):
        selector = query.get("fieldSelector", [""])[0]
        name = None
        if selector:
            field, _, value = selector.replace("==", "=").partition("=")
            if field != "metadata.name" or not value:
                return failure(400, "BadRequest", f'"{selector}" is not a known field selector: only "metadata.name" here')
            name = value
        matching = [o for (ns, n), o in sorted(self.objects.items()) if ns == namespace and name in (None, n)]
        if not watching:
            items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in matching]
            listed = {"kind": "ConfigMapList", "apiVersion": "v1", "metadata": {"resourceVersion": str(self.version)}, "items": items}
            return 200, as_json(listed), "application/json"
        since = query.get("resourceVersion", ["0"])[0] or "0"
        if not since.isdigit():
            return failure(400, "BadRequest", f'invalid resourceVersion "{since}"')
        since = int(since)
        if since and self.history and self.history[0][0] > since + 1 and len(self.history) == HISTORY:
            return failure(410, "Expired", f"too old resource version: {since} ({self.history[0][0] - 1})")
        watch = Watch(self, namespace, name)
        if since:
            # Resumed from a list or an earlier watch: the changes since, as kube-apiserver replays them.
            for version, kind, obj in self.history:
                if version > since:
                    watch.offer(kind, obj)
        else:
            for obj in matching:
                watch.offer("ADDED", obj)
        return watch


def answer(name, store, method, target, headers, body):
    """A request's answer on either protocol: (status, body, content type), or a Watch to stream."""
    path, _, query = target.partition("?")
    api = CONFIGMAPS.fullmatch(path)
    if api:
        query = urllib.parse.parse_qs(query)
        return store.handle("GET" if method == "HEAD" else method, api.group(1), api.group(2), query, headers, body)
    if method not in ("GET", "HEAD", "OPTIONS"):
        return 405, b"method not allowed", "text/plain"
    return route(name, path)


def event_line(name, seq):
    return json.dumps({"type": "MODIFIED", "object": {"kind": "Event", "seq": seq, "master": name}}).encode() + b"\n"


def chunked_head(name):
    head = [
        "HTTP/1.1 200 OK",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
        f"X-Kha-Lab-Master: {name}",
        "Cache-Control: no-cache, private",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode()


# The connections' tasks that serve a watch or HTTP/2 (the clients' watches):
# a stopping stand-in does not wait for them, as kube-apiserver ends watches.
LONG_RUNNING = set()
# Set once the stand-in stops: a keep-alive connection ends after its answer.
STOPPING = asyncio.Event()


def long_running():
    LONG_RUNNING.add(asyncio.current_task())


async def stream_events(name, writer):
    """A watch: chunked JSON lines, one event every WATCH_EVERY s, until the client goes."""
    long_running()
    writer.write(chunked_head(name))
    seq = 0
    while True:
        seq += 1
        line = event_line(name, seq)
        writer.write(b"%x\r\n%s\r\n" % (len(line), line))
        await asyncio.wait_for(writer.drain(), IDLE_TIMEOUT)
        await asyncio.sleep(WATCH_EVERY)


async def stream_watch(name, reader, writer, watch):
    """A ConfigMap watch, chunked, until the client goes."""
    long_running()
    writer.write(chunked_head(name))
    # Between changes nothing is written, so only a read notices a client gone.
    gone = asyncio.ensure_future(reader.read(1))
    try:
        while True:
            line = asyncio.ensure_future(watch.next())
            await asyncio.wait((line, gone), return_when=asyncio.FIRST_COMPLETED)
            if gone.done():
                line.cancel()
                return
            writer.write(b"%x\r\n%s\r\n" % (len(line.result()), line.result()))
            await asyncio.wait_for(writer.drain(), IDLE_TIMEOUT)
    finally:
        gone.cancel()
        watch.close()


async def serve_client(name, store, reader, writer):
    try:
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError):
                return
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split()
            if len(parts) != 3:
                writer.write(build_response(name, 400, b"bad request", "text/plain", False))
                await writer.drain()
                return
            method, path, version = parts
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length", "0") or "0")
            # A body over the bound is left unread, so the connection ends after the answer.
            request = None
            if length <= MAX_BODY_BYTES:
                request = await asyncio.wait_for(reader.readexactly(length), IDLE_TIMEOUT)
            keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close" and request is not None
            if method == "GET" and path.split("?", 1)[0] == "/watch":
                await stream_events(name, writer)
                return
            result = answer(name, store, method, path, headers, request)
            if isinstance(result, Watch):
                await stream_watch(name, reader, writer, result)
                return
            status, body, ctype = result
            data = build_response(name, status, body, ctype, keep_alive)
            if method == "HEAD":
                data = data[: len(data) - len(body)]
            writer.write(data)
            await asyncio.wait_for(writer.drain(), IDLE_TIMEOUT)
            if not keep_alive or STOPPING.is_set():
                return
    except (ConnectionError, ssl.SSLError, asyncio.TimeoutError, OSError):
        return
    finally:
        writer.close()


class WindowClosed(Exception):
    """The client has kept its HTTP/2 flow-control window shut for IDLE_TIMEOUT."""


class H2Client:
    """One HTTP/2 connection: this coroutine reads frames, a task answers each stream."""

    def __init__(self, name, store, writer):
        self.name = name
        self.store = store
        self.writer = writer
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.streams = {}
        # Requests whose END_STREAM has not come, with their body so far (None once over the bound).
        self.requests = {}
        # Replaced each time the peer opens a window, so that every answer waiting on one wakes.
        self.window = asyncio.Event()

    async def flush(self):
        data = self.conn.data_to_send()
        if not data:
            return
        self.writer.write(data)
        try:
            await asyncio.wait_for(self.writer.drain(), IDLE_TIMEOUT)
        except asyncio.TimeoutError:
            # The whole connection is stuck, whichever stream noticed: end it, and
            # the reader's EOF ends every stream on it.
            self.writer.transport.abort()
            raise

    def head(self, status, ctype, length=None):
        headers = [(":status", str(status)), ("content-type", ctype)]
        if length is not None:
            headers.append(("content-length", str(length)))
        return headers + [("x-kha-lab-master", self.name), ("cache-control", "no-cache, private")]

    async def serve(self, reader):
        self.conn.initiate_connection()
        await self.flush()
        while True:
            try:
                data = await asyncio.wait_for(reader.read(65536), IDLE_TIMEOUT)
            except asyncio.TimeoutError:
                # A watch's client may say nothing for hours; a connection with
                # no stream open is dropped when silent, as HTTP/1.1's is.
                if self.streams:
                    continue
                self.conn.close_connection()
                await self.flush()
                return
            if not data:
                return
            try:
                events = self.conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                # h2 has queued the GOAWAY that says why.
                await self.flush()
                return
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    self.requests[event.stream_id] = (dict(event.headers), bytearray())
                elif isinstance(event, h2.events.DataReceived):
                    # Acknowledged as it comes, kept or not, so that it never closes the window.
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    request = self.requests.get(event.stream_id)
                    if request and request[1] is not None:
                        body = request[1] + event.data
                        self.requests[event.stream_id] = (request[0], body if len(body) <= MAX_BODY_BYTES else None)
                elif isinstance(event, h2.events.StreamEnded):
                    request = self.requests.pop(event.stream_id, None)
                    if request:
                        self.start(event.stream_id, *request)
                elif isinstance(event, h2.events.StreamReset):
                    self.requests.pop(event.stream_id, None)
                    task = self.streams.pop(event.stream_id, None)
                    if task:
                        task.cancel()
                elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
                    self.window.set()
                    self.window = asyncio.Event()
                elif isinstance(event, h2.events.ConnectionTerminated):
                    return
            # PING and SETTINGS acknowledgements leave here too.
            await self.flush()

    def start(self, sid, headers, body):
        task = asyncio.create_task(self.answer(sid, headers, None if body is None else bytes(body)))
        self.streams[sid] = task
        task.add_done_callback(lambda _: self.streams.get(sid) is task and self.streams.pop(sid))

    async def answer(self, sid, headers, request):
        method, path = headers.get(":method", ""), headers.get(":path", "")
        try:
            if method == "GET" and path.split("?", 1)[0] == "/watch":
                await self.watch(sid)
                return
            result = answer(self.name, self.store, method, path, headers, request)
            if isinstance(result, Watch):
                await self.watch_configmaps(sid, result)
                return
            status, body, ctype = result
            self.conn.send_headers(sid, self.head(status, ctype, len(body)), end_stream=method == "HEAD")
            if method != "HEAD":
                await self.send_body(sid, body)
            await self.flush()
        except WindowClosed:
            self.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
            await self.flush()
        except (h2.exceptions.ProtocolError, ConnectionError, ssl.SSLError, asyncio.TimeoutError, OSError):
            # The stream or the connection is gone; the reader ends the rest.
            return

    async def send_body(self, sid, body, end_stream=True):
        while True:
            size = min(len(body), self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if size or not body:
                self.conn.send_data(sid, body[:size], end_stream=end_stream and size == len(body))
                await self.flush()
                body = body[size:]
                if not body:
                    return
                continue
            # The client's window is closed: a small answer may wait for it, a while.
            try:
                await asyncio.wait_for(self.window.wait(), IDLE_TIMEOUT)
            except asyncio.TimeoutError:
                raise WindowClosed() from None

    async def watch(self, sid):
        """The watch of stream_events, one event a DATA frame, until the client resets the stream or goes."""
        self.conn.send_headers(sid, self.head(200, "application/json"))
        await self.flush()
        seq = 0
        closed_since = None
        while True:
            seq += 1
            line = event_line(self.name, seq)
            window = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if window >= len(line):
                closed_since = None
                self.conn.send_data(sid, line)
                await self.flush()
            else:
                # A client that does not open its window loses events (a gap in
                # seq) rather than making the server hold them for it, and after
                # IDLE_TIMEOUT the watch, as a full socket ends HTTP/1.1's.
                now = asyncio.get_running_loop().time()
                if closed_since is None:
                    closed_since = now
                if now - closed_since >= IDLE_TIMEOUT:
                    raise WindowClosed()
            await asyncio.sleep(WATCH_EVERY)


    async def watch_configmaps(self, sid, watch):
        """A ConfigMap watch on its stream. Unlike /watch's, no event may be lost: each
        waits for the client's window, and a window shut for IDLE_TIMEOUT ends the watch."""
        try:
            self.conn.send_headers(sid, self.head(200, "application/json"))
            await self.flush()
            while True:
                await self.send_body(sid, await watch.next(), end_stream=False)
        finally:
            watch.close()


async def serve_h2(name, store, reader, writer):
    long_running()
    client = H2Client(name, store, writer)
    try:
        # A hand-accepted socket misses asyncio's TCP_NODELAY (its proto is 0),
        # and HTTP/2's small frames (a PING's answer among them) would wait for
        # an ACK; kube-apiserver, Go, sets it too.
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await client.serve(reader)
    except (ConnectionError, ssl.SSLError, asyncio.TimeoutError, OSError):
        return
    finally:
        for task in list(client.streams.values()):
            task.cancel()
        writer.close()


def quiet_handler(loop, context):
    # Failed handshakes (port checks, plain-TCP probes, clients gone) are routine here.
    exc = context.get("exception")
    if isinstance(exc, (ssl.SSLError, ConnectionError, OSError, asyncio.TimeoutError)):
        return
    loop.default_exception_handler(context)


async def first_bytes(loop, sock):
    """The client's first bytes, left in the socket for the TLS handshake."""
    readable = loop.create_future()
    loop.add_reader(sock.fileno(), lambda: readable.done() or readable.set_result(None))
    try:
        await asyncio.wait_for(readable, HANDSHAKE_TIMEOUT)
    finally:
        loop.remove_reader(sock.fileno())
    return sock.recv(len(SSLV3_HELLO), socket.MSG_PEEK)


async def accept_one(name, store, ctx, sock):
    loop = asyncio.get_running_loop()
    try:
        if await first_bytes(loop, sock) == SSLV3_HELLO:
            sock.send(PROTOCOL_VERSION_ALERT)
            sock.close()
            return
        reader = asyncio.StreamReader(limit=MAX_HEADER_BYTES)
        transport, protocol = await loop.connect_accepted_socket(
            lambda: asyncio.StreamReaderProtocol(reader), sock, ssl=ctx, ssl_handshake_timeout=HANDSHAKE_TIMEOUT
        )
    except (ConnectionError, ssl.SSLError, asyncio.TimeoutError, OSError):
        sock.close()
        return
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    tls = transport.get_extra_info("ssl_object")
    if tls is not None and tls.selected_alpn_protocol() == "h2":
        await serve_h2(name, store, reader, writer)
    else:
        await serve_client(name, store, reader, writer)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--port", type=int, default=6443)
    p.add_argument("--bind", default="0.0.0.0")
    a = p.parse_args()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
    if h2 is None:
        print("kha-lab apiserver stand-in: no python3-h2 here, so HTTP/1.1 only (client-go's PING health check will not run)", flush=True)
    ctx.set_alpn_protocols(["h2", "http/1.1"] if h2 is not None else ["http/1.1"])
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(quiet_handler)
    # Accepted by hand, so that each connection's first bytes can be looked at before TLS.
    listener = socket.create_server((a.bind, a.port), backlog=1024)
    listener.setblocking(False)
    clients = set()
    store = ConfigMaps()

    async def accept_loop():
        while True:
            sock, _ = await loop.sock_accept(listener)
            sock.setblocking(False)
            task = asyncio.create_task(accept_one(a.name, store, ctx, sock))
            clients.add(task)
            task.add_done_callback(clients.discard)
            task.add_done_callback(LONG_RUNNING.discard)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    accepting = asyncio.create_task(accept_loop())
    print(f"kha-lab apiserver stand-in for {a.name} on {a.bind}:{a.port}", flush=True)
    await stop.wait()
    STOPPING.set()
    accepting.cancel()
    listener.close()
    # New connections are refused from here (haproxy retries them elsewhere); the requests under way are answered.
    under_way = [t for t in clients if t not in LONG_RUNNING]
    if under_way:
        await asyncio.wait(under_way, timeout=DRAIN_TIMEOUT)


if __name__ == "__main__":
    asyncio.run(main())
