// docker diff, cp and commit: GET /containers/{id}/changes, GET|HEAD|PUT
// /containers/{id}/archive, POST /commit.

#include <fcntl.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "api/routes.h"
#include "common/clock.h"
#include "common/fd.h"

namespace berth::api {

using nlohmann::json;

namespace {

// httputils.ArchiveFormValues: both must be there.
bool ArchiveParams(Request& req, Conn& c, std::string* name, std::string* path) {
  *name = req.params["id"];
  *path = req.Query("path");
  if (path->empty()) {
    c.SendError(absl::InvalidArgumentError("bad parameter: path cannot be empty"));
    return false;
  }
  return true;
}

void GetArchive(Backend& b, Request& req, Conn& c) {
  std::string name, path;
  if (!ArchiveParams(req, c, &name, &path)) return;
  if (req.method == "HEAD") {
    auto stat = b.containers.StatPath(name, path);
    if (!stat.ok()) {
      // A HEAD answer has no body: the status says it all (the docker CLI words its own).
      c.SendRaw(HttpStatusFor(stat.status()), "application/json", "");
      return;
    }
    c.AddHeader("X-Docker-Container-Path-Stat", PathStatHeader(*stat));
    c.SendEmpty(200);
    return;
  }
  // The tar is written by a helper thread into a pipe and streamed from here: the stat (or the
  // error) comes first, and decides the response's status and header.
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    c.SendError(ErrnoStatus(errno, "pipe"));
    return;
  }
  UniqueFd rd(p[0]), wr(p[1]);
  std::promise<StatusOr<engine::PathStat>> stat_promise;
  auto stat_future = stat_promise.get_future();
  std::thread writer([&] {
    bool stat_sent = false;
    Status st = b.containers.ArchivePath(
        name, path,
        [&](const engine::PathStat& s) {
          stat_sent = true;
          stat_promise.set_value(s);
        },
        wr.get());
    if (!stat_sent) stat_promise.set_value(st);
    wr.reset();  // EOF for the reader (or EPIPE for us once it is gone)
  });
  auto stat = stat_future.get();
  if (!stat.ok()) {
    c.SendError(stat.status());
  } else {
    c.AddHeader("X-Docker-Container-Path-Stat", PathStatHeader(*stat));
    bool ok = c.BeginStream(200, "application/x-tar");
    char buf[1 << 16];
    while (ok) {
      ssize_t n = ::read(rd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      ok = c.WriteChunk(std::string_view(buf, static_cast<size_t>(n)));
    }
    if (ok) c.EndStream();
  }
  rd.reset();  // a writer still writing gets EPIPE and stops
  writer.join();
}

void PutArchive(Backend& b, Request& req, Conn& c) {
  std::string name, path;
  if (!ArchiveParams(req, c, &name, &path)) return;
  UniqueFd body(::open(req.body_file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!body.valid()) {
    c.SendError(ErrnoStatus(errno, "open request body"));
    return;
  }
  Status st = b.containers.ExtractToDir(name, path, body.get(), req.QueryBool("noOverwriteDirNonDir"),
                                        req.QueryBool("copyUIDGID"));
  if (!st.ok()) {
    c.SendError(st);
    return;
  }
  c.SendEmpty(200);
}

}  // namespace

std::string PathStatHeader(const engine::PathStat& s) {
  nlohmann::ordered_json j;
  j["name"] = s.name;
  j["size"] = s.size;
  j["mode"] = s.mode;
  j["mtime"] = FormatRfc3339Nano(s.mtime_nanos);
  j["linkTarget"] = s.link_target;
  return absl::Base64Escape(j.dump());
}

void AddFsRoutes(Router& r, Backend& b) {
  r.Add("GET", "/containers/{id}/changes", [&b](Request& req, Conn& c) {
    auto changes = b.containers.Changes(req.params["id"]);
    if (!changes.ok()) {
      c.SendError(changes.status());
      return;
    }
    // dockerd's list is a nil slice when nothing changed: null.
    json out = changes->empty() ? json(nullptr) : json::array();
    for (const auto& ch : *changes) {
      json o;
      o["Path"] = ch.path;
      o["Kind"] = ch.kind;
      out.push_back(o);
    }
    c.SendJson(200, out);
  });
  r.Add("GET", "/containers/{id}/archive",
        [&b](Request& req, Conn& c) { GetArchive(b, req, c); });
  r.Add("PUT", "/containers/{id}/archive",
        [&b](Request& req, Conn& c) { PutArchive(b, req, c); }, /*upload=*/true);
  r.Add("POST", "/commit", [&b](Request& req, Conn& c) {
    std::string body = req.body;
    body.erase(0, body.find_first_not_of(" \t\r\n"));
    body.erase(body.find_last_not_of(" \t\r\n") + 1);
    if (!body.empty() && body != "null" && body != "{}") {
      // A config in the body replaces the container's in dockerd; Berth commits the container's.
      c.SendError(absl::InvalidArgumentError(
          "a container config in the commit request body is not supported by Berth: use changes="));
      return;
    }
    engine::ContainerManager::CommitRequest cr;
    cr.repo = req.Query("repo");
    cr.tag = req.Query("tag");
    cr.comment = req.Query("comment");
    cr.author = req.Query("author");
    cr.pause = req.QueryBool("pause", true);
    if (auto it = req.query_all.find("changes"); it != req.query_all.end()) cr.changes = it->second;
    std::string name = req.Query("container");
    auto id = b.containers.Commit(name, cr);
    if (!id.ok()) {
      c.SendError(id.status());
      return;
    }
    c.SendJson(201, json{{"Id", *id}});
  });
}

}  // namespace berth::api
