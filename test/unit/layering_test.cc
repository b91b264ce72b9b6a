// The rules of src/'s layers that a compiler does not check: Docker's JSON stops at src/api. Below
// it, only the files that read or write a JSON *file format* may include a JSON library.

#include <dirent.h>
#include <stdio.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <cstdlib>

#include "gtest/gtest.h"

namespace berth {
namespace {

std::string Read(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Files under dir (recursively), relative to src/.
void Walk(const std::string& root, const std::string& rel, std::set<std::string>* out) {
  DIR* d = opendir((root + "/" + rel).c_str());
  ASSERT_NE(d, nullptr) << root + "/" + rel;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    std::string r = rel + "/" + n;
    if (e->d_type == DT_DIR) Walk(root, r, out);
    else out->insert(r);
  }
  closedir(d);
}

TEST(Layering, JsonStaysAtTheApiEdgeAndInFileFormatCodecs) {
  const std::string src = std::string(BERTH_SOURCE_DIR) + "/src";
  // The store's records, image configs and manifests, runc's config.json, seccomp profiles: file
  // formats.
  const std::set<std::string> allowed = {
      "engine/container_records.cc", "engine/images.cc", "engine/oci_spec.cc",
      "engine/image_blobs.cc",  // layer and blob records
      "engine/seccomp_profile.cc",  // Docker's seccomp profile format
      "engine/volume_records.cc",
      "engine/log_reader.cc",  // the json-file log format: the slow path of its line parser
      "network/controller_records.cc",
  };
  std::set<std::string> files;
  Walk(src, "engine", &files);
  Walk(src, "network", &files);
  ASSERT_FALSE(files.empty());
  for (const std::string& f : files) {
    std::string text = Read(src + "/" + f);
    bool uses_json = text.find("nlohmann") != std::string::npos;
    if (allowed.count(f)) continue;
    EXPECT_FALSE(uses_json) << "src/" << f
                            << " uses a JSON library: take typed values (src/spec), or, for a "
                               "file format, keep it in a *_records.cc codec";
  }
  // No header of the engine or the network layer exposes one.
  for (const std::string& f : files) {
    if (f.size() > 2 && f.substr(f.size() - 2) == ".h") {
      EXPECT_EQ(Read(src + "/" + f).find("nlohmann"), std::string::npos) << "src/" << f;
    }
  }
}

// Berth is Apache-2.0; libnftables and libnftnl are GPL-2.0-only. Only berth-nft, a separate
// program with its own licence, may link them.
TEST(Licences, NoApacheBinaryLinksAGplTwoOnlyLibrary) {
  const char* bin = std::getenv("BERTH_BIN");
  if (bin == nullptr) GTEST_SKIP() << "BERTH_BIN is not set (ctest sets it)";
  for (const char* name : {"berthd", "berth", "berth-shim"}) {
    std::string cmd = "ldd " + std::string(bin) + "/" + name + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[4096];
    for (size_t n; (n = ::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    ::pclose(p);
    EXPECT_FALSE(out.empty()) << cmd;
    EXPECT_EQ(out.find("libnftables"), std::string::npos) << name << " links libnftables:\n" << out;
    EXPECT_EQ(out.find("libnftnl"), std::string::npos) << name << " links libnftnl:\n" << out;
  }
}

}  // namespace
}  // namespace berth
