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
"""
import argparse
import asyncio
import json
import signal
import socket
import ssl

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
WATCH_EVERY = 0.1
MAX_HEADER_BYTES = 16384
# A handshake record of SSL 3.0: haproxy's `option ssl-hello-chk` (the kubeadm
# guide's check) sends one and counts any alert as a live server.
SSLV3_HELLO = b"\x16\x03\x00"
# kube-apiserver (Go's crypto/tls) answers it with a fatal protocol_version
# alert in a TLS 1.0 record. asyncio's TLS drops the alert OpenSSL makes (it
# aborts the transport on a failed handshake), so the stand-in sends it itself.
PROTOCOL_VERSION_ALERT = b"\x15\x03\x01\x00\x02\x02\x46"


def build_response(name, status, body, ctype, keep_alive):
    reason = {200: "OK", 404: "Not Found", 400: "Bad Request", 405: "Method Not Allowed"}.get(status, "OK")
    head = [
        f"HTTP/1.1 {status} {reason}",
        f"Content-Type: {ctype}",
        f"Content-Length: {len(body)}",
        f"X-Kha-Lab-Master: {name}",
        "Cache-Control: no-cache, private",
        "Connection: " + ("keep-alive" if keep_alive else "close"),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def route(name, path):
    path = path.split("?", 1)[0]
    if path in ("/healthz", "/readyz", "/livez"):
        return 200, b"ok", "text/plain; charset=utf-8"
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


def event_line(name, seq):
    return json.dumps({"type": "MODIFIED", "object": {"kind": "Event", "seq": seq, "master": name}}).encode() + b"\n"


async def stream_events(name, writer):
    """A watch: chunked JSON lines, one event every WATCH_EVERY s, until the client goes."""
    head = [
        "HTTP/1.1 200 OK",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
        f"X-Kha-Lab-Master: {name}",
        "Cache-Control: no-cache, private",
    ]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    seq = 0
    while True:
        seq += 1
        line = event_line(name, seq)
        writer.write(b"%x\r\n%s\r\n" % (len(line), line))
        await asyncio.wait_for(writer.drain(), IDLE_TIMEOUT)
        await asyncio.sleep(WATCH_EVERY)


async def serve_client(name, reader, writer):
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
                    headers[k.strip().lower()] = v.strip().lower()
            length = int(headers.get("content-length", "0") or "0")
            if length:
                await asyncio.wait_for(reader.readexactly(min(length, 1 << 20)), IDLE_TIMEOUT)
            keep_alive = version == "HTTP/1.1" and headers.get("connection") != "close"
            if method == "GET" and path.split("?", 1)[0] == "/watch":
                await stream_events(name, writer)
                return
            if method not in ("GET", "HEAD", "OPTIONS"):
                status, body, ctype = 405, b"method not allowed", "text/plain"
            else:
                status, body, ctype = route(name, path)
            data = build_response(name, status, body, ctype, keep_alive)
            if method == "HEAD":
                data = data[: len(data) - len(body)]
            writer.write(data)
            await asyncio.wait_for(writer.drain(), IDLE_TIMEOUT)
            if not keep_alive:
                return
    except (ConnectionError, ssl.SSLError, asyncio.TimeoutError, OSError):
        return
    finally:
        writer.close()


class WindowClosed(Exception):
    """The client has kept its HTTP/2 flow-control window shut for IDLE_TIMEOUT."""


class H2Client:
    """One HTTP/2 connection: this coroutine reads frames, a task answers each stream."""

    def __init__(self, name, writer):
        self.name = name
        self.writer = writer
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.streams = {}
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
                    self.start(event.stream_id, dict(event.headers))
                elif isinstance(event, h2.events.DataReceived):
                    # A request body is not read, but its bytes must not close the window.
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamReset):
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

    def start(self, sid, headers):
        task = asyncio.create_task(self.answer(sid, headers.get(":method", ""), headers.get(":path", "")))
        self.streams[sid] = task
        task.add_done_callback(lambda _: self.streams.get(sid) is task and self.streams.pop(sid))

    async def answer(self, sid, method, path):
        try:
            if method == "GET" and path.split("?", 1)[0] == "/watch":
                await self.watch(sid)
                return
            if method not in ("GET", "HEAD", "OPTIONS"):
                status, body, ctype = 405, b"method not allowed", "text/plain"
            else:
                status, body, ctype = route(self.name, path)
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

    async def send_body(self, sid, body):
        while True:
            size = min(len(body), self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if size or not body:
                self.conn.send_data(sid, body[:size], end_stream=size == len(body))
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


async def serve_h2(name, reader, writer):
    client = H2Client(name, writer)
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


async def accept_one(name, ctx, sock):
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
        await serve_h2(name, reader, writer)
    else:
        await serve_client(name, reader, writer)


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

    async def accept_loop():
        while True:
            sock, _ = await loop.sock_accept(listener)
            sock.setblocking(False)
            task = asyncio.create_task(accept_one(a.name, ctx, sock))
            clients.add(task)
            task.add_done_callback(clients.discard)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    accepting = asyncio.create_task(accept_loop())
    print(f"kha-lab apiserver stand-in for {a.name} on {a.bind}:{a.port}", flush=True)
    await stop.wait()
    accepting.cancel()
    listener.close()


if __name__ == "__main__":
    asyncio.run(main())
