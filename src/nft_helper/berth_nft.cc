// berth-nft: applies nftables scripts for berthd through libnftables.
//
// Copyright the Berth authors.
// SPDX-License-Identifier: GPL-2.0-only
//
// This program is free software; you can redistribute it and/or modify it under the terms of the
// GNU General Public License version 2 as published by the Free Software Foundation. It is
// distributed WITHOUT ANY WARRANTY; see the file COPYING in this directory for the full text.
//
// Why a separate program under another licence: libnftables (and libnftnl under it) is GPL-2.0
// only, so it may not be linked into berthd, which is Apache-2.0. berth-nft links libnftables and
// libc and nothing of Berth's own code; berthd starts one berth-nft and drives it over a pipe, as
// two programs talking through a documented protocol (the arrangement of Cilium's GPL-2 BPF
// programs beside its Apache-2.0 Go agent). Keep it that way: no Berth header is included here,
// and berthd's side of the protocol (src/network/firewall/nft_helper_firewall.cc) is written from
// the description below, not from this file.
//
// Usage: berth-nft [--netns-fd N]
//   --netns-fd N  join the network namespace open on fd N before anything else (berthd passes the
//                 namespace its firewall was created in, so that a restart from any thread lands
//                 in the same one); skipped when it is already ours, so no CAP_SYS_ADMIN is needed
//                 then.
//
// Protocol, on stdin (requests) and stdout (replies), one request at a time. Every frame is
//   1 byte   kind
//   4 bytes  length N, unsigned, big-endian (at most 64 MiB)
//   N bytes  payload
// Request kinds:  'A' apply: run the payload (an nft script, as `nft -f -` reads it) in one atomic
//                     transaction;
//                 'C' check: the same as a dry run (`nft -c`): the kernel checks the whole
//                     transaction and aborts it, so nothing changes.
// Reply kinds:    'O' success, payload empty;
//                 'E' failure, payload nft's error text as `nft -f FILE` prints it, the file
//                     being called "script" ("script:83:25-35: Error: Could not process rule:
//                     ...").
// Once started, berth-nft first sends one reply frame unasked: 'O' with "berth-nft 1" (the
// protocol version) when it is ready, or 'E' with the reason it cannot work (then it exits 1).
// EOF on stdin between frames ends it with status 0 (berthd closed the pipe or died). A malformed
// request (unknown kind, too long, cut short) gets an 'E' reply when it can and ends it with
// status 2: after that the stream cannot be trusted.

#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

constexpr uint32_t kMaxPayload = 64u << 20;
constexpr char kHello[] = "berth-nft 1";

// Reads exactly n bytes: 1 on success, 0 on EOF before the first byte, -1 on EOF or error later.
int ReadFull(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return got == 0 && r == 0 ? 0 : -1;
    got += static_cast<size_t>(r);
  }
  return 1;
}

bool WriteFull(int fd, const char* buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    buf += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool Reply(char kind, const char* text) {
  size_t n = text ? strlen(text) : 0;
  char head[5] = {kind, static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                  static_cast<char>(n >> 8), static_cast<char>(n)};
  return WriteFull(1, head, sizeof head) && WriteFull(1, text, n);
}

// The error text without trailing blank lines; "" stays "".
void TrimRight(char* s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
}

// Why a refused script was refused, in nft's words. Requests run from a buffer, the fastest way in;
// but for an error the kernel reports (a rule naming a missing chain, say) libnftables 1.0.6 then
// prints the buffer's first line under the caret instead of the line at fault, where `nft -f FILE`
// prints the right line and its number. So a refused script is run once more, as a dry run, from a
// memfd read as the file /proc/self/fd/N (a refused transaction changed nothing, so the kernel
// refuses it the same way), and that text is sent, the file called "script". Without a memfd or
// /proc, or if the second run says nothing, the first text is sent.
class Explainer {
 public:
  Explainer() {
    fd_ = memfd_create("berth-nft-script", MFD_CLOEXEC);
    if (fd_ >= 0) {
      snprintf(path_, sizeof path_, "/proc/self/fd/%d", fd_);
      if (access(path_, R_OK) != 0) {
        close(fd_);
        fd_ = -1;
      }
    }
  }

  // The error text to send for buf[0..n) (NUL-terminated), which the buffer run refused with
  // `first`; malloc'd, without the trailing newline; nullptr when out of memory. Leaves the
  // context's dry-run setting off.
  char* Explain(nft_ctx* ctx, const char* buf, size_t n, const char* first) {
    if (fd_ >= 0 && ftruncate(fd_, 0) == 0 && WriteAt(buf, n)) {
      nft_ctx_set_dry_run(ctx, true);
      int rc = nft_run_cmd_from_filename(ctx, path_);
      nft_ctx_set_dry_run(ctx, false);
      (void)nft_ctx_get_output_buffer(ctx);
      const char* err = nft_ctx_get_error_buffer(ctx);
      if (rc != 0 && err != nullptr && *err != '\0') return Tidy(err);
    }
    nft_ctx_set_dry_run(ctx, false);
    return Tidy(first);
  }

 private:
  // err with the memfd's name shown as "script" ("script:83:25-35: Error: ...").
  char* Tidy(const char* err) const {
    size_t plen = fd_ >= 0 ? strlen(path_) : 0;
    char* out = static_cast<char*>(malloc(strlen(err) + 1));  // "script" is never longer
    if (out == nullptr) return nullptr;
    char* o = out;
    while (*err != '\0') {
      if (plen > 0 && strncmp(err, path_, plen) == 0 && err[plen] == ':') {
        memcpy(o, "script", 6);
        o += 6;
        err += plen;
      } else {
        *o++ = *err++;
      }
    }
    *o = '\0';
    TrimRight(out);
    return out;
  }

  bool WriteAt(const char* buf, size_t n) {
    off_t off = 0;
    while (static_cast<size_t>(off) < n) {
      ssize_t w = pwrite(fd_, buf + off, n - static_cast<size_t>(off), off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      off += w;
    }
    return true;
  }

  int fd_ = -1;
  char path_[32] = "";
};

int JoinNetns(int fd) {
  struct stat want, have;
  if (fstat(fd, &want) != 0) return errno;
  if (stat("/proc/self/ns/net", &have) == 0 && have.st_dev == want.st_dev &&
      have.st_ino == want.st_ino)
    return 0;
  return setns(fd, CLONE_NEWNET) == 0 ? 0 : errno;
}

}  // namespace

int main(int argc, char** argv) {
  // A Ctrl-C at berthd's terminal reaches the whole process group; berth-nft ends when berthd
  // closes the pipe instead, so a change in flight is answered.
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_DFL);  // berthd gone mid-reply: nothing left to do

  char why[256];
  if (argc == 3 && strcmp(argv[1], "--netns-fd") == 0) {
    char* end = nullptr;
    long fd = strtol(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || fd < 0 || fd > 1023) {
      snprintf(why, sizeof why, "--netns-fd %s: not a file descriptor", argv[2]);
      Reply('E', why);
      return 1;
    }
    if (int err = JoinNetns(static_cast<int>(fd)); err != 0) {
      snprintf(why, sizeof why, "setns to the network namespace on fd %ld: %s", fd, strerror(err));
      Reply('E', why);
      return 1;
    }
    close(static_cast<int>(fd));
  } else if (argc != 1) {
    fprintf(stderr, "usage: berth-nft [--netns-fd N]  (started by berthd; see the source)\n");
    Reply('E', "usage: berth-nft [--netns-fd N]");
    return 1;
  }

  Explainer explainer;
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr || nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
    Reply('E', "libnftables: cannot create a context");
    return 1;
  }
  if (!Reply('O', kHello)) return 1;

  char* buf = nullptr;
  size_t cap = 0;
  for (;;) {
    char head[5];
    int r = ReadFull(0, head, sizeof head);
    if (r == 0) break;  // berthd closed the pipe: done
    if (r < 0) return 2;
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(head[1])) << 24 |
                 static_cast<uint32_t>(static_cast<unsigned char>(head[2])) << 16 |
                 static_cast<uint32_t>(static_cast<unsigned char>(head[3])) << 8 |
                 static_cast<uint32_t>(static_cast<unsigned char>(head[4]));
    if (head[0] != 'A' && head[0] != 'C') {
      snprintf(why, sizeof why, "berth-nft: unknown request kind 0x%02x",
               static_cast<unsigned char>(head[0]));
      Reply('E', why);
      return 2;
    }
    if (n > kMaxPayload) {
      snprintf(why, sizeof why, "berth-nft: request of %u bytes is over the limit of %u", n,
               kMaxPayload);
      Reply('E', why);
      return 2;
    }
    if (n + 1 > cap) {
      char* grown = static_cast<char*>(realloc(buf, n + 1));
      if (grown == nullptr) {
        Reply('E', "berth-nft: out of memory");
        return 2;
      }
      buf = grown;
      cap = n + 1;
    }
    if (ReadFull(0, buf, n) != 1) return 2;  // cut short
    buf[n] = '\0';                           // libnftables takes a C string

    nft_ctx_set_dry_run(ctx, head[0] == 'C');
    int rc = nft_run_cmd_from_buffer(ctx, buf);
    nft_ctx_set_dry_run(ctx, false);
    (void)nft_ctx_get_output_buffer(ctx);  // read (and so emptied) every time: it grows otherwise
    bool sent;
    if (rc == 0) {
      sent = Reply('O', nullptr);
    } else {
      const char* err = nft_ctx_get_error_buffer(ctx);
      // Copied: the explaining run reuses libnftables' buffer.
      char* first = strdup(err != nullptr && *err != '\0' ? err : "the transaction was refused");
      char* text = first != nullptr ? explainer.Explain(ctx, buf, n, first) : nullptr;
      free(first);
      if (text == nullptr) return 2;
      sent = Reply('E', text);
      free(text);
    }
    if (!sent) break;
  }
  free(buf);
  nft_ctx_free(ctx);
  return 0;
}
