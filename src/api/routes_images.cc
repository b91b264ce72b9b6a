#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "api/render.h"
#include "api/routes.h"
#include "common/fd.h"
#include "common/ids.h"

namespace berth::api {

using nlohmann::json;

namespace {

// Shell-style glob for reference filters ("busy*").
bool Glob(const std::string& pat, const std::string& s) {
  size_t p = 0, i = 0, star = std::string::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == s[i] || pat[p] == '?')) {
      ++p;
      ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (star != std::string::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

void SendFile(Conn& c, const std::string& path, const std::string& content_type) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    c.SendError(ErrnoStatus(errno, "open " + path));
    return;
  }
  if (!c.BeginStream(200, content_type)) return;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (!c.WriteChunk(std::string_view(buf, static_cast<size_t>(n)))) return;
  }
  c.EndStream();
}

}  // namespace

void AddImageRoutes(Router& r, Backend& b) {
  r.Add("GET", "/images/json", [&b](Request& req, Conn& c) {
    auto filters = RequestFilters(req);
    Status st = filters.ok() ? filters->Validate({"before", "dangling", "label", "reference", "since"})
                             : filters.status();
    std::optional<bool> dangling;
    if (st.ok())
      st = filters->WalkValues("dangling", [&](const std::string& v) {
        if (v == "true" || v == "1") dangling = true;
        else if (v == "false" || v == "0") dangling = false;
        else return spec::InvalidFilter("dangling", v);
        return absl::OkStatus();
      });
    // before/since name an image; the list keeps those created before/after it.
    int64_t before = 0, since = 0;
    for (auto [key, out] : {std::pair{"before", &before}, std::pair{"since", &since}}) {
      if (!st.ok()) break;
      for (const std::string& v : filters->Get(key)) {
        auto ref = b.images.Get(v);
        if (!ref.ok()) {
          st = ref.status();
          break;
        }
        ParseRfc3339(ref->created, out);
      }
    }
    if (!st.ok()) {
      c.SendError(st);
      return;
    }
    OrderedJson out = OrderedJson::array();
    for (auto& img : b.images.List()) {
      if (dangling && *dangling != img.tags.empty()) continue;
      if (filters->Contains("reference")) {
        bool any = false;
        for (auto& pat : filters->Get("reference"))
          for (auto& t : img.tags) {
            std::string repo = t.substr(0, t.find_last_of(':'));
            any |= Glob(pat, t) || Glob(pat, repo);
          }
        if (!any) continue;
      }
      if (!filters->MatchKVList("label", img.container_config.labels)) continue;
      int64_t created = 0;
      ParseRfc3339(img.created, &created);
      if (before > 0 && created >= before) continue;
      if (since > 0 && created <= since) continue;
      out.push_back(RenderImageSummary(img));
    }
    SendOrdered(c, 200, out);
  });

  r.Add("POST", "/images/load", [&b](Request& req, Conn& c) {
    auto lines = b.images.Load(req.body_file);
    if (!lines.ok()) {
      // dockerd has committed to a 200 JSON stream before it reads the archive: a bad one is
      // an error message inside the stream (streamformatter.FormatError), not an HTTP error.
      std::string msg(lines.status().message());
      OrderedJson detail = {{"message", msg}};
      OrderedJson error = {{"errorDetail", detail}, {"error", msg}};
      c.SendRaw(200, "application/json", error.dump() + "\r\n");
      return;
    }
    b.events.Publish("image", "load", "", {});
    std::string body;
    for (auto& l : *lines) body += json{{"stream", l + "\n"}}.dump() + "\n";
    c.SendRaw(200, "application/json", body);
  }, /*upload=*/true);

  r.Add("POST", "/images/create", [&b](Request& req, Conn& c) {
    std::string src = req.Query("fromSrc");
    if (src.empty()) {
      // A pull (routes_distribution.cc).
      if (req.Query("fromImage").empty()) {
        c.SendError(absl::InvalidArgumentError("image name cannot be blank"));
        return;
      }
      PullImage(b, req, c);
      return;
    }
    if (src != "-") {
      c.SendError(absl::InvalidArgumentError("import from a URL is not supported: send the tarball (fromSrc=-)"));
      return;
    }
    std::string ref = req.Query("repo");
    if (!ref.empty() && !req.Query("tag").empty()) ref += ":" + req.Query("tag");
    std::vector<std::string> changes;
    if (req.query_all.count("changes")) changes = req.query_all["changes"];
    auto id = b.images.Import(req.body_file, ref, changes, req.Query("message"));
    if (!id.ok()) {
      c.SendError(id.status());
      return;
    }
    b.events.Publish("image", "import", *id, {});
    c.SendRaw(200, "application/json", json{{"status", *id}}.dump() + "\n");
  }, /*upload=*/true);

  r.Add("GET", "/images/get", [&b](Request& req, Conn& c) {
    std::vector<std::string> names;
    if (req.query_all.count("names")) names = req.query_all["names"];
    if (names.empty()) {
      c.SendError(absl::InvalidArgumentError("no images named"));
      return;
    }
    for (auto& n : names)
      if (auto img = b.images.Get(n); !img.ok()) {
        c.SendError(img.status());
        return;
      }
    std::string tmp = b.info.data_root + "/image/tmp/save-" + NewId().substr(0, 16);
    {
      UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      Status st = fd.valid() ? b.images.Save(names, fd.get()) : ErrnoStatus(errno, "create " + tmp);
      if (!st.ok()) {
        ::unlink(tmp.c_str());
        c.SendError(st);
        return;
      }
    }
    SendFile(c, tmp, "application/x-tar");
    ::unlink(tmp.c_str());
  });

  r.Add("POST", "/images/prune", [&b](Request& req, Conn& c) {
    auto filters = RequestFilters(req);
    if (!filters.ok()) {
      c.SendError(filters.status());
      return;
    }
    auto pf = spec::ParsePruneFilter(*filters, UnixNanos(b.clock.Now()), {"dangling"});
    if (!pf.ok()) {
      c.SendError(pf.status());
      return;
    }
    bool all = filters->ExactMatch("dangling", "false") || filters->ExactMatch("dangling", "0");
    auto res = b.images.Prune(all && filters->Contains("dangling"), [&](const engine::Image& img) {
      int64_t created = 0;
      ParseRfc3339(img.created, &created);
      return pf->Matches(created, img.container_config.labels);
    });
    if (!res.ok()) {
      c.SendError(res.status());
      return;
    }
    SendOrdered(c, 200, {{"ImagesDeleted", res->deleted.empty() ? OrderedJson(nullptr) : RenderImageDeletes(res->deleted)},
                         {"SpaceReclaimed", res->reclaimed}});
  });

  r.Add("GET", "/images/{name*}/json", [&b](Request& req, Conn& c) {
    auto img = b.images.Get(req.params["name"]);
    if (!img.ok()) {
      c.SendError(img.status());
      return;
    }
    std::string lower;
    for (auto& d : b.images.LowerDirs(*img)) lower += (lower.empty() ? "" : ":") + d;
    SendOrdered(c, 200, RenderImageInspect(*img, lower));
  });

  r.Add("GET", "/images/{name*}/history", [&b](Request& req, Conn& c) {
    auto img = b.images.Get(req.params["name"]);
    if (!img.ok()) {
      c.SendError(img.status());
      return;
    }
    json out = json::array();
    json config = json::parse(img->config_raw, nullptr, false);
    json hist = config.is_object() ? config.value("history", json::array()) : json::array();
    // Each entry that made a layer shows that layer's size, as docker history does: the
    // non-empty entries take the layers in order.
    std::vector<int64_t> sizes(hist.size(), 0);
    size_t layer = 0;
    for (size_t i = 0; i < hist.size(); ++i) {
      if (hist[i].is_object() && hist[i].value("empty_layer", false)) continue;
      sizes[i] = layer < img->layer_sizes.size() ? img->layer_sizes[layer] : 0;
      ++layer;
    }
    for (auto it = hist.rbegin(); it != hist.rend(); ++it) {
      int64_t created = 0;
      ParseRfc3339(it->value("created", ""), &created);
      out.push_back({{"Id", it == hist.rbegin() ? img->id : "<missing>"},
                     {"Created", created / 1000000000},
                     {"CreatedBy", it->value("created_by", "")},
                     {"Tags", it == hist.rbegin() ? json(img->tags) : json(nullptr)},
                     {"Size", sizes[static_cast<size_t>(hist.rend() - it) - 1]},
                     {"Comment", it->value("comment", "")}});
    }
    c.SendJson(200, out);
  });

  r.Add("GET", "/images/{name*}/get", [&b](Request& req, Conn& c) {
    req.query_all["names"] = {req.params["name"]};
    std::string tmp = b.info.data_root + "/image/tmp/save-" + NewId().substr(0, 16);
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    Status st = b.images.Save({req.params["name"]}, fd.get());
    fd.reset();
    if (!st.ok()) c.SendError(st);
    else SendFile(c, tmp, "application/x-tar");
    ::unlink(tmp.c_str());
  });

  r.Add("POST", "/images/{name*}/tag", [&b](Request& req, Conn& c) {
    std::string target = req.Query("repo");
    if (!req.Query("tag").empty()) target += ":" + req.Query("tag");
    Status st = b.images.Tag(req.params["name"], target);
    if (!st.ok()) {
      c.SendError(st);
      return;
    }
    b.events.Publish("image", "tag", req.params["name"], {{"name", target}});
    c.SendEmpty(201);
  });

  r.Add("DELETE", "/images/{name*}", [&b](Request& req, Conn& c) {
    auto res = b.images.Remove(req.params["name"], req.QueryBool("force"));
    if (!res.ok()) {
      c.SendError(res.status());
      return;
    }
    for (auto& e : *res)
      if (!e.deleted.empty()) b.events.Publish("image", "delete", e.deleted, {});
      else b.events.Publish("image", "untag", e.untagged, {});
    SendOrdered(c, 200, RenderImageDeletes(*res));
  });
}

}  // namespace berth::api
