#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "api/routes.h"
#include "common/fd.h"
#include "common/ids.h"

namespace berth::api {

using nlohmann::json;

namespace {

std::map<std::string, std::vector<std::string>> Filters(const Request& req) {
  std::map<std::string, std::vector<std::string>> out;
  auto fj = json::parse(req.Query("filters", "{}"), nullptr, false);
  if (!fj.is_object()) return out;
  for (auto& [k, v] : fj.items()) {
    if (v.is_object())
      for (auto& [val, on] : v.items()) out[k].push_back(val);
    else if (v.is_array())
      for (auto& e : v)
        if (e.is_string()) out[k].push_back(e.get<std::string>());
  }
  return out;
}

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
    auto filters = Filters(req);
    for (auto& [k, v] : filters)
      if (k != "dangling" && k != "reference" && k != "label" && k != "before" && k != "since") {
        c.SendError(absl::InvalidArgumentError("invalid filter '" + k + "'"));
        return;
      }
    json out = json::array();
    for (auto& img : b.images.List()) {
      if (filters.count("dangling")) {
        bool want = filters["dangling"][0] == "true" || filters["dangling"][0] == "1";
        if (want != img.tags.empty()) continue;
      }
      if (filters.count("reference")) {
        bool any = false;
        for (auto& pat : filters["reference"])
          for (auto& t : img.tags) {
            std::string repo = t.substr(0, t.find_last_of(':'));
            any |= Glob(pat, t) || Glob(pat, repo);
          }
        if (!any) continue;
      }
      if (filters.count("label")) {
        json labels = img.config.contains("config") ? img.config["config"].value("Labels", json::object()) : json::object();
        bool all = true;
        for (auto& l : filters["label"]) {
          auto eq = l.find('=');
          if (!labels.is_object()) { all = false; break; }
          if (eq == std::string::npos) all &= labels.contains(l);
          else all &= labels.contains(l.substr(0, eq)) && labels[l.substr(0, eq)] == l.substr(eq + 1);
        }
        if (!all) continue;
      }
      out.push_back(b.images.Summary(img));
    }
    c.SendJson(200, out);
  });

  r.Add("POST", "/images/load", [&b](Request& req, Conn& c) {
    auto lines = b.images.Load(req.body_file);
    if (!lines.ok()) {
      c.SendError(lines.status());
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
      std::string image = req.Query("fromImage");
      std::string tag = req.Query("tag");
      std::string ref = image + (tag.empty() ? "" : ":" + tag);
      c.SendError(absl::NotFoundError(
          "pull access denied for " + image +
          ": Berth has no registry to pull from; load the image with `docker load` or "
          "`docker import` (" + ref + ")"));
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
    auto filters = Filters(req);
    bool all = filters.count("dangling") && (filters["dangling"][0] == "false" || filters["dangling"][0] == "0");
    auto res = b.images.Prune(all);
    if (!res.ok()) c.SendError(res.status());
    else c.SendJson(200, *res);
  });

  r.Add("GET", "/images/{name*}/json", [&b](Request& req, Conn& c) {
    auto img = b.images.Get(req.params["name"]);
    if (!img.ok()) c.SendError(img.status());
    else c.SendJson(200, b.images.Inspect(*img));
  });

  r.Add("GET", "/images/{name*}/history", [&b](Request& req, Conn& c) {
    auto img = b.images.Get(req.params["name"]);
    if (!img.ok()) {
      c.SendError(img.status());
      return;
    }
    json out = json::array();
    json hist = img->config.value("history", json::array());
    for (auto it = hist.rbegin(); it != hist.rend(); ++it) {
      int64_t created = 0;
      ParseRfc3339(it->value("created", ""), &created);
      out.push_back({{"Id", it == hist.rbegin() ? img->id : "<missing>"},
                     {"Created", created / 1000000000},
                     {"CreatedBy", it->value("created_by", "")},
                     {"Tags", it == hist.rbegin() ? json(img->tags) : json(nullptr)},
                     {"Size", it->value("empty_layer", false) ? 0 : img->size},
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
      if (e.contains("Deleted")) b.events.Publish("image", "delete", e["Deleted"], {});
      else if (e.contains("Untagged")) b.events.Publish("image", "untag", e["Untagged"], {});
    c.SendJson(200, *res);
  });
}

}  // namespace berth::api
