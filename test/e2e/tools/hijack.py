#!/usr/bin/python3
"""A hijacking Engine API client, as client libraries (docker-py, the Go SDK) speak it.

    hijack.py SOCK METHOD PATH [--body JSON] [--send TEXT]... [--wait SECONDS] [--timeout SECONDS]

Sends METHOD PATH with `Connection: Upgrade` / `Upgrade: tcp` (and the JSON body), reads the
response header, then sends each TEXT --wait seconds after the one before (Python escapes
allowed: "\\x10\\x11" is ctrl-p ctrl-q) without closing its sending side, and reads until the
daemon ends the stream.
Writes the stream's bytes to stdout and the status code to stderr; exits 0 if the daemon closed
the stream, 3 if --timeout passed first, 2 on a non-101/200 answer (its body goes to stdout).
"""
import argparse
import select
import socket
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("sock")
p.add_argument("method")
p.add_argument("path")
p.add_argument("--body", default=None)
p.add_argument("--send", action="append", default=[])
p.add_argument("--wait", type=float, default=0.0)
p.add_argument("--timeout", type=float, default=10.0)
a = p.parse_args()

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(a.sock)
body = a.body.encode() if a.body is not None else b""
head = f"{a.method} {a.path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
if a.body is not None:
    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
s.sendall(head.encode() + b"\r\n" + body)

buf = b""
while b"\r\n\r\n" not in buf:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
header, _, rest = buf.partition(b"\r\n\r\n")
status = int(header.split(b" ", 2)[1]) if header.startswith(b"HTTP/") else 0
print(status, file=sys.stderr)
if status not in (101, 200):
    sys.stdout.buffer.write(rest)
    sys.exit(2)

out = bytearray(rest)
deadline = time.monotonic() + a.timeout
sends = list(a.send)
send_at = time.monotonic() + a.wait if sends else None
closed = False
while time.monotonic() < deadline:
    now = time.monotonic()
    if send_at is not None and now >= send_at:
        s.sendall(sends.pop(0).encode().decode("unicode_escape").encode("latin-1"))
        send_at = time.monotonic() + a.wait if sends else None
    limit = deadline if send_at is None else min(deadline, send_at)
    r, _, _ = select.select([s], [], [], max(0.0, limit - time.monotonic()))
    if r:
        chunk = s.recv(65536)
        if not chunk:
            closed = True
            break
        out += chunk
sys.stdout.buffer.write(bytes(out))
sys.exit(0 if closed else 3)
