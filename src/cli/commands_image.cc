// Image commands: images, image inspect, load, import, tag, rmi, save, image prune.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "absl/strings/str_join.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/stream.h"

namespace berth::cli {
namespace {

using client::QueryEscape;
using nlohmann::json;

std::string Esc(const std::string& s) { return QueryEscape(s); }

StatusOr<std::string> ReadAllFd(int fd) {
  std::string data;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read");
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", path));
  UniqueFd owned(fd);
  return ReadAllFd(fd);
}

// Prints a docker JSON message stream (load, import): "stream" text as is, "status" lines,
// errors to stderr. Returns false if the stream carried an error.
class MessagePrinter {
 public:
  explicit MessagePrinter(Cli& cli) : cli_(cli) {}
  void Feed(std::string_view data) {
    lines_.Feed(data, [this](const json& j) { Print(j); });
  }
  void Finish() {
    lines_.Finish([this](const json& j) { Print(j); });
  }
  bool failed() const { return failed_; }

 private:
  void Print(const json& j) {
    if (j.contains("error") || j.contains("errorDetail")) {
      std::string msg = j.value("error", "");
      if (msg.empty() && j["errorDetail"].is_object()) msg = j["errorDetail"].value("message", "");
      cli_.err() << msg << "\n";
      failed_ = true;
      return;
    }
    if (j.contains("stream") && j["stream"].is_string()) {
      cli_.out() << j["stream"].get<std::string>();
    } else if (j.contains("status") && j["status"].is_string()) {
      if (j.contains("id") && j["id"].is_string()) cli_.out() << j["id"].get<std::string>() << ": ";
      cli_.out() << j["status"].get<std::string>() << "\n";
    }
    cli_.out().flush();
  }
  Cli& cli_;
  JsonLines lines_;
  bool failed_ = false;
};

// "repo:tag" -> ("repo", "tag"); the tag colon is the one after the last slash.
std::pair<std::string, std::string> SplitRepoTag(const std::string& ref) {
  size_t slash = ref.rfind('/');
  size_t colon = ref.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    return {ref.substr(0, colon), ref.substr(colon + 1)};
  }
  return {ref, ""};
}

std::string ShortImageId(const std::string& id, bool trunc) {
  std::string s = id;
  if (trunc) {
    if (s.rfind("sha256:", 0) == 0) s = s.substr(7);
    s = s.substr(0, 12);
  }
  return s;
}


}  // namespace

int CmdImages(Cli& cli, const Invocation& inv) {
  bool all = false, quiet = false, no_trunc = false, digests = false;
  std::string format;
  std::vector<std::string> filters;
  FlagSet f;
  f.Bool("all", 'a', &all);
  f.Bool("quiet", 'q', &quiet);
  f.Bool("no-trunc", 0, &no_trunc);
  f.Bool("digests", 0, &digests);
  f.String("format", 0, &format);
  f.StringList("filter", 'f', &filters);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 1, &rc)) return rc;
  auto fm = ParseFilters(filters);
  if (!fm.ok()) return PrintError(cli, fm.status());
  if (!pos.empty()) (*fm)["reference"].push_back(pos[0]);
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::string q;
  auto add = [&](const std::string& kv) { q += (q.empty() ? "?" : "&") + kv; };
  if (all) add("all=1");
  if (!fm->empty()) add("filters=" + FiltersParam(*fm));
  auto r = (*api)->Call("GET", "/images/json" + q);
  if (!r.ok()) return PrintError(cli, r.status());
  auto list = r->Json();
  if (!list.ok() || !list->is_array()) return PrintError(cli, absl::InternalError("bad list"));
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::vector<json> items;
  for (const auto& img : *list) {
    // docker's imageFormatTaggedAndDigest: a row per repository and tag, each with the digests
    // of that repository (one row per digest with --digests), then a row per repository that
    // has only digests; an image with neither is one <none> row.
    auto strings = [&](const char* key) {
      std::vector<std::string> v;
      if (img.contains(key) && img[key].is_array())
        for (const auto& t : img[key])
          if (t.is_string()) v.push_back(t.get<std::string>());
      return v;
    };
    std::vector<std::string> tag_list = strings("RepoTags"), digest_list = strings("RepoDigests");
    struct Row {
      std::string repo, tag, digest;
    };
    std::vector<Row> rows;
    bool dangling = (tag_list.empty() && digest_list.empty()) ||
                    (tag_list == std::vector<std::string>{"<none>:<none>"} &&
                     digest_list == std::vector<std::string>{"<none>@<none>"});
    if (dangling) {
      rows.push_back({"<none>", "<none>", "<none>"});
    } else {
      std::vector<std::string> repos;  // in order of first appearance
      std::map<std::string, std::vector<std::string>> repo_tags, repo_digests;
      for (const auto& t : tag_list) {
        if (t == "<none>:<none>") continue;
        auto [repo, tag] = SplitRepoTag(t);
        if (!repo_tags.count(repo)) repos.push_back(repo);
        repo_tags[repo].push_back(tag);
      }
      std::vector<std::string> digest_repos;
      for (const auto& d : digest_list) {
        size_t at = d.find('@');
        if (at == std::string::npos || d == "<none>@<none>") continue;
        std::string repo = d.substr(0, at);
        if (!repo_digests.count(repo)) digest_repos.push_back(repo);
        repo_digests[repo].push_back(d.substr(at + 1));
      }
      for (const auto& repo : repos) {
        std::vector<std::string> ds = digests ? repo_digests[repo] : std::vector<std::string>{};
        repo_digests.erase(repo);
        for (const auto& tag : repo_tags[repo]) {
          if (ds.empty()) rows.push_back({repo, tag, "<none>"});
          for (const auto& d : ds) rows.push_back({repo, tag, d});
        }
      }
      for (const auto& repo : digest_repos) {
        if (!repo_digests.count(repo)) continue;
        if (digests)
          for (const auto& d : repo_digests[repo]) rows.push_back({repo, "<none>", d});
        else
          rows.push_back({repo, "<none>", ""});
      }
    }
    for (const auto& row : rows) {
      json item;
      item["Repository"] = row.repo;
      item["Tag"] = row.tag;
      item["Digest"] = row.digest;
      item["ID"] = ShortImageId(img.value("Id", ""), !no_trunc);
      int64_t created = img.value("Created", int64_t{0});
      item["CreatedSince"] = created > 0 ? TimeAgo(created, now) : "";
      item["CreatedAt"] = LocalTime(created);
      item["Size"] = HumanSize(static_cast<double>(img.value("Size", int64_t{0})), 3);
      int64_t virtual_size = img.value("VirtualSize", img.value("Size", int64_t{0}));
      item["VirtualSize"] = HumanSize(static_cast<double>(virtual_size));
      int64_t shared = img.value("SharedSize", int64_t{-1});
      item["SharedSize"] = shared < 0 ? std::string("N/A") : HumanSize(static_cast<double>(shared));
      item["UniqueSize"] =
          shared < 0 ? std::string("N/A")
                     : HumanSize(static_cast<double>(img.value("Size", int64_t{0}) - shared));
      item["Containers"] = img.value("Containers", -1) < 0
                               ? std::string("N/A")
                               : std::to_string(img.value("Containers", 0));
      items.push_back(item);
    }
  }
  if (quiet) {
    for (const auto& it : items) cli.out() << it["ID"].get<std::string>() << "\n";
    return 0;
  }
  if (format.empty() || format == "table") {
    // "N/A" for an image without a creation time, like docker's template does.
    for (auto& it : items) {
      if (it["CreatedSince"] == "") it["CreatedSince"] = "N/A";
    }
    format =
        digests
            ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
            : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
  }
  if (format == "json") format = "{{json .}}";
  json header = {{"Repository", "REPOSITORY"},
                 {"Tag", "TAG"},
                 {"ID", "IMAGE ID"},
                 {"Digest", "DIGEST"},
                 {"CreatedSince", "CREATED"},
                 {"CreatedAt", "CREATED AT"},
                 {"Size", "SIZE"},
                 {"Containers", "CONTAINERS"},
                 {"VirtualSize", "VIRTUAL SIZE"},
                 {"SharedSize", "SHARED SIZE"},
                 {"UniqueSize", "UNIQUE SIZE"}};
  return PrintItems(cli, format, header, items);
}

int CmdImageInspect(Cli& cli, const Invocation& inv) {
  std::string format;
  FlagSet f;
  f.String("format", 'f', &format);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  return InspectObjects(cli, pos, format, [&](const std::string& n) -> StatusOr<std::string> {
    ASSIGN_OR_RETURN(client::Response r, (*api)->Call("GET", "/images/" + Esc(n) + "/json"));
    return r.body;
  });
}

int CmdLoad(Cli& cli, const Invocation& inv) {
  std::string input;
  bool quiet = false;
  std::string platform;
  FlagSet f;
  f.String("input", 'i', &input);
  f.Bool("quiet", 'q', &quiet);
  f.String("platform", 0, &platform);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  StatusOr<std::string> data;
  if (input.empty()) {
    if (IsTerminal(0)) {
      cli.err() << "requested load from stdin, but stdin is empty\n";
      return 1;
    }
    data = ReadAllFd(0);
  } else {
    data = ReadFile(input);
  }
  if (!data.ok()) return PrintError(cli, data.status());
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  MessagePrinter printer(cli);
  client::RequestOptions opts;
  opts.content_type = "application/x-tar";
  // docker asks for quiet output unless stdout is a terminal (no progress bars in pipes).
  auto r = (*api)->Stream(
      "POST", quiet || !IsTerminal(1) ? "/images/load?quiet=1" : "/images/load", *data,
      [&](std::string_view d) {
        printer.Feed(d);
        return true;
      },
      opts);
  if (!r.ok()) return PrintError(cli, r.status());
  printer.Finish();
  return printer.failed() ? 1 : 0;
}

int CmdImport(Cli& cli, const Invocation& inv) {
  std::vector<std::string> changes;
  std::string message, platform;
  FlagSet f;
  f.StringList("change", 'c', &changes);
  f.String("message", 'm', &message);
  f.String("platform", 0, &platform);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 2, &rc)) return rc;
  std::string q;
  std::string body;
  const std::string& src = pos[0];
  if (src == "-") {
    auto d = ReadAllFd(0);
    if (!d.ok()) return PrintError(cli, d.status());
    body = std::move(*d);
    q = "?fromSrc=-";
  } else if (src.rfind("http://", 0) == 0 || src.rfind("https://", 0) == 0) {
    q = "?fromSrc=" + Esc(src);
  } else {
    auto d = ReadFile(src);
    if (!d.ok()) return PrintError(cli, d.status());
    body = std::move(*d);
    q = "?fromSrc=-";
  }
  if (pos.size() == 2) {
    auto [repo, tag] = SplitRepoTag(pos[1]);
    q += "&repo=" + Esc(repo);
    if (!tag.empty()) q += "&tag=" + Esc(tag);
  }
  if (!message.empty()) q += "&message=" + Esc(message);
  for (const auto& c : changes) q += "&changes=" + Esc(c);
  if (!platform.empty()) q += "&platform=" + Esc(platform);
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  MessagePrinter printer(cli);
  client::RequestOptions opts;
  opts.content_type = "application/x-tar";
  auto r = (*api)->Stream(
      "POST", SortedQuery("/images/create" + q), body,
      [&](std::string_view d) {
        printer.Feed(d);
        return true;
      },
      opts);
  if (!r.ok()) return PrintError(cli, r.status());
  printer.Finish();
  return printer.failed() ? 1 : 0;
}

int CmdTag(Cli& cli, const Invocation& inv) {
  FlagSet f;
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 2, 2, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto [repo, tag] = SplitRepoTag(pos[1]);
  std::string q = "?repo=" + Esc(repo) + "&tag=" + Esc(tag.empty() ? "latest" : tag);
  auto r = (*api)->Call("POST", "/images/" + Esc(pos[0]) + "/tag" + q);
  if (!r.ok()) return PrintError(cli, r.status());
  return 0;
}

int CmdRmi(Cli& cli, const Invocation& inv) {
  bool force = false, no_prune = false;
  FlagSet f;
  f.Bool("force", 'f', &force);
  f.Bool("no-prune", 0, &no_prune);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::string q;
  if (force) q += "?force=1";
  if (no_prune) q += std::string(q.empty() ? "?" : "&") + "noprune=1";
  for (const auto& n : pos) {
    auto r = (*api)->Call("DELETE", "/images/" + Esc(n) + q);
    if (!r.ok()) {
      cli.err() << r.status().message() << "\n";
      rc = 1;
      continue;
    }
    auto j = r->Json();
    if (!j.ok() || !j->is_array()) continue;
    for (const auto& e : *j) {
      if (e.contains("Untagged"))
        cli.out() << "Untagged: " << e["Untagged"].get<std::string>() << "\n";
      if (e.contains("Deleted"))
        cli.out() << "Deleted: " << e["Deleted"].get<std::string>() << "\n";
    }
  }
  return rc;
}

int CmdSave(Cli& cli, const Invocation& inv) {
  std::string output, platform;
  FlagSet f;
  f.String("output", 'o', &output);
  f.String("platform", 0, &platform);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  if (output.empty() && IsTerminal(cli.out_fd())) {
    cli.err() << "cowardly refusing to save to a terminal. Use the -o flag or redirect\n";
    return 1;
  }
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::string q;
  for (const auto& n : pos) q += std::string(q.empty() ? "?" : "&") + "names=" + Esc(n);
  int fd = cli.out_fd();
  UniqueFd file;
  std::string tmp;
  if (!output.empty()) {
    // Written to a temporary file and renamed, so a failed save leaves no partial archive.
    tmp = output + ".berth-tmp";
    file.reset(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!file.valid()) {
      cli.err() << "failed to save image: invalid output path: " << std::strerror(errno) << "\n";
      return 1;
    }
    fd = file.get();
  }
  bool write_failed = false;
  auto r = (*api)->Stream("GET", "/images/get" + q, "", [&](std::string_view d) {
    if (!WriteAll(fd, d)) write_failed = true;
    return !write_failed;
  });
  if (!r.ok() || write_failed) {
    if (!tmp.empty()) ::unlink(tmp.c_str());
    if (!r.ok()) return PrintError(cli, r.status());
    cli.err() << "failed to save image: write: " << std::strerror(errno) << "\n";
    return 1;
  }
  if (!tmp.empty()) {
    file.reset();
    if (::rename(tmp.c_str(), output.c_str()) != 0) {
      cli.err() << "failed to save image: " << std::strerror(errno) << "\n";
      return 1;
    }
  }
  return 0;
}

int CmdImagePrune(Cli& cli, const Invocation& inv) {
  bool all = false, force = false;
  std::vector<std::string> filters;
  FlagSet f;
  f.Bool("all", 'a', &all);
  f.Bool("force", 'f', &force);
  f.StringList("filter", 0, &filters);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  if (!force) {
    if (!Confirm(cli, all ? "WARNING! This will remove all images without at least one container "
                            "associated to them.\n"
                          : "WARNING! This will remove all dangling images.\n")) {
      cli.out() << "Total reclaimed space: 0B\n";
      return 0;
    }
  }
  auto fm = ParseFilters(filters);
  if (!fm.ok()) return PrintError(cli, fm.status());
  (*fm)["dangling"] = {all ? "false" : "true"};
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto r = (*api)->Call("POST", "/images/prune?filters=" + FiltersParam(*fm));
  if (!r.ok()) return PrintError(cli, r.status());
  auto j = r->Json();
  if (!j.ok()) return PrintError(cli, j.status());
  const json& deleted = (*j)["ImagesDeleted"];
  if (deleted.is_array() && !deleted.empty()) {
    cli.out() << "Deleted Images:\n";
    for (const auto& e : deleted) {
      if (e.contains("Untagged"))
        cli.out() << "untagged: " << e["Untagged"].get<std::string>() << "\n";
      if (e.contains("Deleted"))
        cli.out() << "deleted: " << e["Deleted"].get<std::string>() << "\n";
    }
    cli.out() << "\n";
  }
  cli.out() << "Total reclaimed space: "
            << HumanSize(static_cast<double>(j->value("SpaceReclaimed", int64_t{0}))) << "\n";
  return 0;
}

}  // namespace berth::cli
