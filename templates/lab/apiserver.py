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
"""
import argparse
import asyncio
import json
import signal
import socket
import ssl

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
        line = json.dumps({"type": "MODIFIED", "object": {"kind": "Event", "seq": seq, "master": name}}).encode() + b"\n"
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
    await serve_client(name, reader, asyncio.StreamWriter(transport, protocol, reader, loop))


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
    ctx.set_alpn_protocols(["http/1.1"])
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
