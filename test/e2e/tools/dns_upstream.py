#!/usr/bin/python3
"""A one-name DNS server for the tests: answers A queries for NAME with ADDR, NXDOMAIN otherwise.

    dns_upstream.py LISTEN_IP NAME ADDR
"""
import socket
import struct
import sys

listen, name, addr = sys.argv[1], sys.argv[2].lower().rstrip("."), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((listen, 53))
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 12:
        continue
    qid, flags = struct.unpack("!HH", q[:4])
    labels, i = [], 12
    while i < len(q) and q[i] != 0:
        labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace"))
        i += 1 + q[i]
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    found = ".".join(labels).lower() == name
    if found and qtype == 1:
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(addr)
        reply = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + answer
    else:
        rcode = 0 if found else 3
        reply = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, 0, 0, 0) + question
    s.sendto(reply, peer)
