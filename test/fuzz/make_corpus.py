#!/usr/bin/env python3
"""Regenerates the seed corpora in test/fuzz/corpus/ from real inputs.

  tar/       archives made by GNU tar (ustar, GNU long names, PAX with xattrs, symlinks,
             hardlinks, devices, fifos, whiteouts, gzip), 512-byte records to keep them small
  dns/       queries as dig and busybox nslookup send them (A, AAAA, PTR, ANY, EDNS with a
             cookie, 0x20 mixed case, a compressed question) and upstream answers
  template/  the --format templates of test/unit/template_test.cc and docker's documentation
  spec/      the request bodies of /work/shared/reference/api-traces (create, networks, exec)
             and the filters parameters found there

Run as root from the repository root (mknod needs it): python3 test/fuzz/make_corpus.py
[TRACES_DIR]. Regression inputs (corpus/*/regression-*) are kept; everything else is rewritten.
"""

import glob
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
TRACES = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/reference/api-traces"


def reset(target):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if not f.startswith("regression-"):
            os.remove(os.path.join(d, f))
    return d


def put(d, name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def tar_seeds():
    d = reset("tar")
    with tempfile.TemporaryDirectory() as t:
        root = os.path.join(t, "root")
        os.makedirs(os.path.join(root, "etc/ssl"))
        put(os.path.join(root, "etc"), "hostname", "web\n")
        put(os.path.join(root, "etc/ssl"), "cert.pem", "-----BEGIN-----\n")
        os.symlink("/etc/hostname", os.path.join(root, "etc/hosts.link"))
        os.symlink("../hostname", os.path.join(root, "etc/ssl/rel.link"))
        os.link(os.path.join(root, "etc/hostname"), os.path.join(root, "etc/hostname.hard"))
        os.mkfifo(os.path.join(root, "fifo"))
        os.mknod(os.path.join(root, "null"), 0o666 | 0o020000, os.makedev(1, 3))
        os.chmod(os.path.join(root, "etc/ssl"), 0o1777)
        longdir = os.path.join(root, "a" * 60, "b" * 60)
        os.makedirs(longdir)
        put(longdir, "c" * 80, "long\n")
        os.symlink("x" * 120, os.path.join(root, "long.link"))
        # Docker/OCI whiteouts: a deleted file and an opaque directory.
        os.makedirs(os.path.join(root, "var/cache"))
        put(os.path.join(root, "var"), ".wh.old.log", "")
        put(os.path.join(root, "var/cache"), ".wh..wh..opq", "")
        for k in ("user.fuzz", "security.capability"):
            try:
                os.setxattr(os.path.join(root, "etc/hostname"), k,
                            b"seed" if k == "user.fuzz" else b"\x01\0\0\x02" + bytes(16))
            except OSError:
                pass  # a file system without them: the PAX seed then has none

        def mk(name, fmt, paths, extra=()):
            out = os.path.join(t, name)
            subprocess.run(["tar", "-C", root, "-b", "1", "--format=" + fmt, "--numeric-owner",
                            *extra, "-cf", out, *paths], check=True)
            with open(out, "rb") as f:
                put(d, name, f.read())

        mk("ustar-files.tar", "ustar", ["etc/hostname", "etc/ssl"])
        mk("gnu-longnames.tar", "gnu", ["a" * 60, "long.link"])
        mk("pax-longnames-xattrs.tar", "posix", ["a" * 60, "long.link", "etc"], ["--xattrs"])
        mk("gnu-links-devices.tar", "gnu", ["etc/hostname", "etc/hostname.hard", "etc/hosts.link",
                                            "fifo", "null"])
        mk("pax-whiteouts.tar", "posix", ["var"])
        mk("gnu-dot-root.tar", "gnu", ["."], ["--exclude=./" + "a" * 60, "--exclude=./null"])
        subprocess.run(["tar", "-C", root, "-b", "1", "--format=posix", "-czf",
                        os.path.join(t, "z.tgz"), "etc/hostname", "var"], check=True)
        with open(os.path.join(t, "z.tgz"), "rb") as f:
            put(d, "pax-gzip.tar.gz", f.read())


def dns_name(name):
    out = b""
    for label in name.split(".") if name else []:
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_query(qid, name, qtype, flags=0x0100, opt=None):
    msg = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 1 if opt is not None else 0)
    msg += dns_name(name) + struct.pack(">HH", qtype, 1)
    if opt is not None:
        msg += b"\0" + struct.pack(">HHIH", 41, 1232, 0, len(opt)) + opt
    return msg


def dns_seeds():
    d = reset("dns")
    cookie = struct.pack(">HH", 10, 8) + bytes(range(8))  # dig's client cookie option
    put(d, "dig-a-c2.bin", dns_query(0x1f2e, "c2", 1, opt=cookie))
    put(d, "dig-aaaa.bin", dns_query(0x0102, "c1.testnetwork", 28, opt=cookie))
    put(d, "nslookup-a.bin", dns_query(0x0001, "c1", 1))
    put(d, "nslookup-ptr.bin", dns_query(0x0002, "2.0.17.172.in-addr.arpa", 12))
    put(d, "any-root.bin", dns_query(0x0003, "", 255))
    put(d, "mixed-case-0x20.bin", dns_query(0x0004, "WeB-1.ExAmPlE.oRg", 1))
    put(d, "external.bin", dns_query(0x0005, "deb.debian.org", 1, opt=b""))
    # A question whose name points back into the header (legal compression, odd but seen).
    hdr = struct.pack(">HHHHHH", 0x0006, 0x0100, 1, 0, 0, 0)
    put(d, "compressed-question.bin", hdr + b"\x01a\xc0\x04" + struct.pack(">HH", 1, 1))
    # Upstream answers: two A records pointing at the question, a PTR, an NXDOMAIN.
    q = dns_name("deb.debian.org") + struct.pack(">HH", 1, 1)
    ans = b"".join(b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 300, 4) + bytes(a)
                   for a in ([151, 101, 2, 132], [151, 101, 66, 132]))
    put(d, "response-a.bin", struct.pack(">HHHHHH", 0x0005, 0x8180, 1, 2, 0, 0) + q + ans)
    q = dns_name("2.0.17.172.in-addr.arpa") + struct.pack(">HH", 12, 1)
    target = dns_name("c1.testnetwork")
    ans = b"\xc0\x0c" + struct.pack(">HHIH", 12, 1, 600, len(target)) + target
    put(d, "response-ptr.bin", struct.pack(">HHHHHH", 0x0002, 0x8180, 1, 1, 0, 0) + q + ans)
    q = dns_name("nonexistent") + struct.pack(">HH", 1, 1)
    put(d, "response-nxdomain.bin", struct.pack(">HHHHHH", 0x0007, 0x8183, 1, 0, 0, 0) + q)


# C++ string literals of test/unit/template_test.cc: "..." and R"(...)".
LITERAL = re.compile(r'R"\((.*?)\)"|"((?:[^"\\\n]|\\.)*)"', re.S)


def cpp_unescape(s):
    return bytes(s, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")


DOCKER_TEMPLATES = [
    "{{.Names}}", "{{.ID}}: {{.Image}}", "table {{.ID}}\\t{{.Names}}\\t{{.Status}}",
    "{{json .}}", "{{json .Config}}", "{{.NetworkSettings.IPAddress}}",
    "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    "{{range $p, $conf := .NetworkSettings.Ports}} {{$p}} -> {{(index $conf 0).HostPort}} {{end}}",
    "{{.LogPath}}", "{{.Config.Image}}", "{{join .Args \" , \"}}", "{{title .Name}}",
    "{{lower .Name}}", "{{upper .Name}}", "{{split .Image \":\"}}", "{{pad .Name 5 5}}",
    "{{truncate .Id 12}}", "{{printf \"%-20s|%5d\" .Name .State.Pid}}",
    "{{if eq .State.Status \"running\"}}up{{else if .State.Paused}}paused{{else}}down{{end}}",
    "{{with .State}}{{.Pid}}{{else}}none{{end}}", "{{range $i, $e := .Args}}{{$i}}={{$e}} {{end}}",
    "{{- /* a comment */ -}}{{len .Args}}", "{{index .Config.Labels \"com.example.z\"}}",
    "{{slice .Id 0 12}}", "{{range 3}}{{.}}{{break}}{{end}}", "{{$x := 1}}{{$x = 2}}{{$x}}",
    "{{and .True .Empty}} {{or .Null \"x\"}} {{not .False}}", "{{html .Text}} {{js .Text}} {{urlquery .Text}}",
    "{{print 1 2 \"a\" \"b\"}}{{println .Numbers}}", "{{printf \"%q %x %v %T\" .Text 255 .Null 1.5}}",
    "{{lt 1 2.5}} {{ge \"b\" \"a\"}} {{ne .Name \"/web\"}}", "{{.Numbers}} {{index .Numbers 3}}",
    "{{(index .Nested 1).k.k.k}}", "{{`raw\nstring`}} {{'x'}} {{0x1F}} {{1e3}} {{-7}}",
]


def template_seeds():
    d = reset("template")
    seen = set(DOCKER_TEMPLATES)
    src = open(os.path.join(HERE, "../unit/template_test.cc"), encoding="utf-8").read()
    for m in re.finditer(r'(?:Render|ParseError|RenderList)\(\s*(R"\(.*?\)"|"(?:[^"\\\n]|\\.)*")', src, re.S):
        lit = LITERAL.fullmatch(m.group(1))
        text = lit.group(1) if lit.group(1) is not None else cpp_unescape(lit.group(2))
        seen.add(text)
    for text in sorted(seen):
        put(d, hashlib.sha1(text.encode()).hexdigest()[:16], text)


def spec_seeds():
    d = reset("spec")
    seen = set()
    for f in sorted(glob.glob(os.path.join(TRACES, "*.md"))):
        s = open(f, encoding="utf-8", errors="replace").read()
        for m in re.finditer(r"\nrequest body \(application/json\):\n```\n(.*?)\n```", s, re.S):
            try:
                body = json.dumps(json.loads(m.group(1)), separators=(",", ":"))
            except ValueError:
                body = m.group(1)
            seen.add(body)
        for m in re.finditer(r"filters=([^ )\s]+)", s):
            seen.add(urllib.parse.unquote(m.group(1)))
    seen.update(['{"label":["a=1","b"]}', '{"Cmd":["sh"],"Env":null,"Tty":true}', ""])
    for body in sorted(seen):
        put(d, hashlib.sha1(body.encode()).hexdigest()[:16], body)


if __name__ == "__main__":
    tar_seeds()
    dns_seeds()
    template_seeds()
    spec_seeds()
    for t in sorted(os.listdir(CORPUS)):
        print(t, len(os.listdir(os.path.join(CORPUS, t))))
