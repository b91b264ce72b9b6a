#!/usr/bin/python3
"""Builds test images as a registry holds them, pushes them with the Registry HTTP API v2, and
tampers a stored blob. Standard library only.

    mkimage.py build --out DIR [--arch amd64] [--variant V] [--cmd JSON] [--seed N]
                     [--layer SIZE[:COMPRESSIBLE]]... [--layer-tar TAR]... [--file PATH=TEXT]...
        One image: gzip layers, a Docker config (rootfs.diff_ids = sha256 of the uncompressed
        tars, os linux), a schema2 manifest. Layers come in the order given: --layer-tar adds an
        existing uncompressed tar, --layer a generated one of SIZE bytes (K/M/G suffixes) whose
        content is deterministic (from --seed and the layer's index) and COMPRESSIBLE (0..1,
        default 0.5) of it text, the rest random bytes; --file adds a last small layer holding
        those files. Writes DIR/blobs/sha256/<hex>, DIR/manifest.json (the exact bytes pushed)
        and DIR/image.json (what the tests need: digests, sizes, diff ids, platform); prints the
        manifest's digest.
    mkimage.py index --out DIR IMAGE_DIR...
        A manifest list (Docker's media type) of the images built in each IMAGE_DIR, each with the
        platform of its config. Prints the list's digest.
    mkimage.py push --dir DIR --registry HOST:PORT --repo NAME --tag TAG
                    [--user USER:PASS] [--cacert CA.crt] [--chunk BYTES]
        Pushes an image (its blobs: HEAD, then POST + PUT, monolithic or PATCH chunks of --chunk
        bytes; then the manifest) or an index (each image by digest, then the list). HTTPS when
        --cacert is given, else plain HTTP. Prints the pushed manifest's digest.
    mkimage.py tamper STORAGE DIGEST
        Flips bytes in the middle of the blob DIGEST in a filesystem-driver registry storage
        (STORAGE/docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data), keeping its length, so the
        registry serves it under its old digest and size.
"""
import argparse
import base64
import gzip
import hashlib
import http.client
import io
import json
import os
import random
import shutil
import ssl
import sys
import tarfile
import urllib.parse

MT_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MTIME = 1700000000  # every tar entry's mtime: the same bytes on every run
FILE_MAX = 8 << 20  # a generated layer is cut into files of at most this size
WORDS = (b"berth registry layer digest manifest index platform amd64 arm64 blob chunk upload "
         b"verify extract pull push tag repository config rootfs diff lorem ipsum dolor sit amet")


def parse_size(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    s = s.strip().upper().rstrip("B")
    if s and s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    return int(s)


def blob_path(out, digest):
    return os.path.join(out, "blobs", "sha256", digest.split(":", 1)[1])


def store_blob(out, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob_path(out, digest), "wb") as f:
        f.write(data)
    return digest, len(data)


def file_content(rng, size, compressible, tag):
    """size bytes: the compressible share as numbered lines of words, the rest random."""
    text_len = int(size * compressible)
    lines = []
    n = 0
    total = 0
    while total < text_len:
        line = b"%s %d " % (tag, n) + WORDS[: 40 + (n * 7) % (len(WORDS) - 40)] + b"\n"
        lines.append(line)
        total += len(line)
        n += 1
    text = b"".join(lines)[:text_len]
    return text + rng.randbytes(size - text_len)


def add_dir(tf, name):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mode = 0o755
    ti.mtime = MTIME
    tf.addfile(ti)


def add_file(tf, name, data, mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = mode
    ti.mtime = MTIME
    tf.addfile(ti, io.BytesIO(data))


def generated_tar(path, index, size, compressible, seed):
    rng = random.Random(seed * 1000003 + index)
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tf:
        add_dir(tf, "data")
        add_dir(tf, "data/l%d" % index)
        left, k = size, 0
        while left > 0:
            n = min(left, FILE_MAX)
            add_file(tf, "data/l%d/f%03d" % (index, k),
                     file_content(rng, n, compressible, b"l%d.f%d" % (index, k)))
            left -= n
            k += 1


def files_tar(path, files):
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tf:
        dirs = set()
        for name, text in files:
            parts = name.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    add_dir(tf, d)
            add_file(tf, "/".join(parts), text.encode())


def gzip_layer(out, tar_path):
    """(digest, size, diff_id) of tar_path compressed into a blob; streamed, not held in memory."""
    diff = hashlib.sha256()
    tmp = os.path.join(out, "layer.gz.tmp")
    with open(tar_path, "rb") as src, open(tmp, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
            while True:
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                diff.update(chunk)
                gz.write(chunk)
    h = hashlib.sha256()
    with open(tmp, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
    digest = "sha256:" + h.hexdigest()
    size = os.path.getsize(tmp)
    os.replace(tmp, blob_path(out, digest))
    return digest, size, "sha256:" + diff.hexdigest()


def canonical(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def cmd_build(a):
    os.makedirs(os.path.join(a.out, "blobs", "sha256"), exist_ok=True)
    layers = []  # (kind, value) in command-line order
    for spec in a.layer_specs:
        layers.append(spec)
    if a.file:
        layers.append(("files", [f.split("=", 1) for f in a.file]))
    built = []
    for i, (kind, val) in enumerate(layers):
        tar_path = os.path.join(a.out, "layer%d.tar" % i)
        if kind == "tar":
            shutil.copyfile(val, tar_path)
        elif kind == "gen":
            size, comp = val
            generated_tar(tar_path, i, size, comp, a.seed)
        else:
            files_tar(tar_path, val)
        digest, size, diff_id = gzip_layer(a.out, tar_path)
        built.append({"digest": digest, "size": size, "diff_id": diff_id,
                      "tar_size": os.path.getsize(tar_path)})
        if not a.keep_tars:
            os.unlink(tar_path)
    history = [{"created": "2023-11-14T22:13:20Z", "created_by": "mkimage.py layer %d" % i}
               for i in range(len(built))]
    config = {
        "architecture": a.arch,
        "os": "linux",
        "created": "2023-11-14T22:13:20Z",
        "config": {"Cmd": json.loads(a.cmd), "Env": ["PATH=/bin:/usr/bin"],
                   "Labels": {"berth.test.seed": str(a.seed)}},
        "rootfs": {"type": "layers", "diff_ids": [b["diff_id"] for b in built]},
        "history": history,
    }
    if a.variant:
        config["variant"] = a.variant
    config_digest, config_size = store_blob(a.out, canonical(config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "size": config_size, "digest": config_digest},
        "layers": [{"mediaType": MT_LAYER, "size": b["size"], "digest": b["digest"]}
                   for b in built],
    }
    raw = json.dumps(manifest, indent=3).encode()
    with open(os.path.join(a.out, "manifest.json"), "wb") as f:
        f.write(raw)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    platform = {"architecture": a.arch, "os": "linux"}
    if a.variant:
        platform["variant"] = a.variant
    info = {"kind": "image", "digest": digest, "size": len(raw), "media_type": MT_MANIFEST,
            "config": {"digest": config_digest, "size": config_size},
            "layers": built, "platform": platform}
    with open(os.path.join(a.out, "image.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(digest)


def cmd_index(a):
    os.makedirs(a.out, exist_ok=True)
    manifests, children = [], []
    for d in a.images:
        with open(os.path.join(d, "image.json")) as f:
            info = json.load(f)
        manifests.append({"mediaType": info["media_type"], "size": info["size"],
                          "digest": info["digest"], "platform": info["platform"]})
        children.append(os.path.abspath(d))
    raw = json.dumps({"schemaVersion": 2, "mediaType": MT_LIST, "manifests": manifests},
                     indent=3).encode()
    with open(os.path.join(a.out, "manifest.json"), "wb") as f:
        f.write(raw)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    with open(os.path.join(a.out, "image.json"), "w") as f:
        json.dump({"kind": "index", "digest": digest, "size": len(raw), "media_type": MT_LIST,
                   "children": children}, f, indent=2)
    print(digest)


class Registry:
    def __init__(self, host, user=None, cacert=None):
        self.host = host
        self.headers = {}
        if user:
            self.headers["Authorization"] = "Basic " + base64.b64encode(user.encode()).decode()
        self.ctx = ssl.create_default_context(cafile=cacert) if cacert else None

    def request(self, method, url, body=None, headers=None, ok=(200,)):
        u = urllib.parse.urlsplit(url)
        path = u.path + ("?" + u.query if u.query else "")
        if self.ctx:
            conn = http.client.HTTPSConnection(self.host, context=self.ctx, timeout=120)
        else:
            conn = http.client.HTTPConnection(self.host, timeout=120)
        h = dict(self.headers)
        h.update(headers or {})
        if body is not None and not isinstance(body, (bytes, bytearray)):
            h["Content-Length"] = str(os.fstat(body.fileno()).st_size)
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if resp.status not in ok:
            sys.exit("mkimage.py: %s %s -> %d %s" % (method, path, resp.status,
                                                     data.decode(errors="replace")))
        return resp, data

    def location(self, resp, repo):
        loc = resp.getheader("Location")
        if not loc:
            sys.exit("mkimage.py: no Location for an upload to %s" % repo)
        return loc

    def push_blob(self, repo, digest, path, chunk):
        resp, _ = self.request("HEAD", "/v2/%s/blobs/%s" % (repo, digest), ok=(200, 404))
        if resp.status == 200:
            return False
        resp, _ = self.request("POST", "/v2/%s/blobs/uploads/" % repo, body=b"",
                               ok=(202,))
        loc = self.location(resp, repo)
        size = os.path.getsize(path)
        if chunk and size > chunk:
            with open(path, "rb") as f:
                off = 0
                while off < size:
                    data = f.read(chunk)
                    resp, _ = self.request("PATCH", loc, body=data, ok=(202,), headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": "%d-%d" % (off, off + len(data) - 1)})
                    loc = self.location(resp, repo)
                    off += len(data)
            sep = "&" if "?" in loc else "?"
            self.request("PUT", loc + sep + "digest=" + digest, body=b"", ok=(201,))
        else:
            sep = "&" if "?" in loc else "?"
            with open(path, "rb") as f:
                self.request("PUT", loc + sep + "digest=" + digest, body=f, ok=(201,),
                             headers={"Content-Type": "application/octet-stream"})
        return True

    def push_manifest(self, repo, ref, raw, media_type):
        resp, _ = self.request("PUT", "/v2/%s/manifests/%s" % (repo, ref), body=raw,
                               headers={"Content-Type": media_type}, ok=(201,))
        return resp.getheader("Docker-Content-Digest")


def push_image(reg, d, repo, ref, chunk):
    with open(os.path.join(d, "image.json")) as f:
        info = json.load(f)
    if info["kind"] == "index":
        for child in info["children"]:
            push_image(reg, child, repo, None, chunk)
    else:
        for b in info["layers"] + [info["config"]]:
            reg.push_blob(repo, b["digest"], blob_path(d, b["digest"]), chunk)
    with open(os.path.join(d, "manifest.json"), "rb") as f:
        raw = f.read()
    got = reg.push_manifest(repo, ref or info["digest"], raw, info["media_type"])
    if got and got != info["digest"]:
        sys.exit("mkimage.py: the registry stored %s as %s" % (info["digest"], got))
    return info["digest"]


def cmd_push(a):
    reg = Registry(a.registry, a.user, a.cacert)
    print(push_image(reg, a.dir, a.repo, a.tag, a.chunk))


def cmd_tamper(a):
    hexd = a.digest.split(":", 1)[-1]
    path = os.path.join(a.storage, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        off = size // 2
        f.seek(off)
        data = f.read(16)
        f.seek(off)
        f.write(bytes(b ^ 0xFF for b in data))
    print(path)


class LayerSpec(argparse.Action):
    """--layer and --layer-tar append to one ordered list."""

    def __call__(self, parser, ns, value, option):
        specs = getattr(ns, "layer_specs", None) or []
        if option == "--layer-tar":
            specs.append(("tar", value))
        else:
            size, _, comp = value.partition(":")
            specs.append(("gen", (parse_size(size), float(comp) if comp else 0.5)))
        ns.layer_specs = specs


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="subcommand", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", required=True)
    b.add_argument("--arch", default="amd64")
    b.add_argument("--variant", default="")
    b.add_argument("--cmd", default='["sh"]')
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--layer", action=LayerSpec, dest="layer_specs", default=[])
    b.add_argument("--layer-tar", action=LayerSpec, dest="layer_specs")
    b.add_argument("--file", action="append", default=[])
    b.add_argument("--keep-tars", action="store_true",
                   help="keep DIR/layerN.tar (the uncompressed layers)")
    i = sub.add_parser("index")
    i.add_argument("--out", required=True)
    i.add_argument("images", nargs="+")
    u = sub.add_parser("push")
    u.add_argument("--dir", required=True)
    u.add_argument("--registry", required=True)
    u.add_argument("--repo", required=True)
    u.add_argument("--tag", required=True)
    u.add_argument("--user")
    u.add_argument("--cacert")
    u.add_argument("--chunk", type=parse_size, default=0)
    t = sub.add_parser("tamper")
    t.add_argument("storage")
    t.add_argument("digest")
    a = p.parse_args()
    {"build": cmd_build, "index": cmd_index, "push": cmd_push, "tamper": cmd_tamper}[a.subcommand](a)


if __name__ == "__main__":
    main()
