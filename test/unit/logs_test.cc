// The container log path end to end without a container: the shim's writer (json_log, LogFile
// with rotation and compression), the API's reader (fast json-file parser, framing, tail,
// rotated and gzipped files) and the LogConfig rules.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "engine/log_config.h"
#include "engine/log_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shim/json_log.h"
#include "shim/log_file.h"

namespace berth {
namespace {

using engine::LogLine;
using engine::LogReader;
using engine::LogReadOptions;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-logs-test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path_).c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool Exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

// Everything a reader renders, concatenated.
std::string ReadAll(const std::string& path, LogReadOptions o) {
  LogReader r(path, o);
  EXPECT_TRUE(r.Open().ok());
  std::string out;
  EXPECT_TRUE(r.ReadAvailable([&](std::string_view d) {
    out.append(d);
    return true;
  }));
  return out;
}

LogReadOptions Raw() {
  LogReadOptions o;
  o.raw = true;
  return o;
}

// stdcopy frames -> (stream, payload) pairs.
std::vector<std::pair<int, std::string>> Frames(std::string_view s) {
  std::vector<std::pair<int, std::string>> v;
  while (s.size() >= 8) {
    size_t n = (static_cast<uint8_t>(s[4]) << 24) | (static_cast<uint8_t>(s[5]) << 16) |
               (static_cast<uint8_t>(s[6]) << 8) | static_cast<uint8_t>(s[7]);
    v.emplace_back(s[0], std::string(s.substr(8, n)));
    s.remove_prefix(8 + n);
  }
  EXPECT_TRUE(s.empty());
  return v;
}

TEST(JsonLogParse, FastPathPlainAndEscaped) {
  std::string scratch;
  LogLine l;
  ASSERT_TRUE(engine::ParseJsonLogLine(
      R"({"log":"hello world\n","stream":"stdout","time":"2026-11-28T03:24:58.42852458Z"})",
      &scratch, &l));
  EXPECT_EQ(l.log, "hello world\n");
  EXPECT_FALSE(l.is_stderr);
  EXPECT_EQ(l.time, "2026-11-28T03:24:58.42852458Z");

  ASSERT_TRUE(engine::ParseJsonLogLine(
      R"({"log":"a\"b\\c\/d\te\u003c\u0026\u003e\u0001\u2028\ud83d\ude00\ufffd","stream":"stderr","time":"2026-01-01T00:00:00Z"})",
      &scratch, &l));
  EXPECT_EQ(l.log, "a\"b\\c/d\te<&>\x01\xE2\x80\xA8\xF0\x9F\x98\x80\xEF\xBF\xBD");
  EXPECT_TRUE(l.is_stderr);
}

TEST(JsonLogParse, SlowPathForOtherShapes) {
  std::string scratch;
  LogLine l;
  // dockerd's attrs sit between stream and time; spaces and another key order are JSON too.
  ASSERT_TRUE(engine::ParseJsonLogLine(
      R"({"log":"x\n","stream":"stderr","attrs":{"a":"b"},"time":"2026-01-01T00:00:00Z"})",
      &scratch, &l));
  EXPECT_EQ(l.log, "x\n");
  EXPECT_TRUE(l.is_stderr);
  EXPECT_EQ(l.time, "2026-01-01T00:00:00Z");
  ASSERT_TRUE(engine::ParseJsonLogLine(R"({ "time":"2026-01-01T00:00:00Z", "log":"y" })", &scratch, &l));
  EXPECT_EQ(l.log, "y");
  EXPECT_FALSE(l.is_stderr);
  EXPECT_FALSE(engine::ParseJsonLogLine(R"({"log":"unterminated)", &scratch, &l));
  EXPECT_FALSE(engine::ParseJsonLogLine("garbage", &scratch, &l));
  EXPECT_FALSE(engine::ParseJsonLogLine(R"({"log":"bad \x escape","stream":"stdout","time":"t"})",
                                        &scratch, &l));
}

TEST(JsonLogParse, RoundTripsWhatTheShimWrites) {
  std::string text;
  for (int c = 1; c < 128; ++c) text += static_cast<char>(c);
  text += "\xC3\xA9\xE2\x80\xA9\xF0\x9F\x98\x80 end\n";
  std::string line;
  shim::AppendJsonLogEntry(line, text, "stdout", "2026-01-01T00:00:00.5Z");
  ASSERT_EQ(line.back(), '\n');
  line.pop_back();
  std::string scratch;
  LogLine l;
  ASSERT_TRUE(engine::ParseJsonLogLine(line, &scratch, &l));
  EXPECT_EQ(l.log, text);
}

TEST(LogTime, ParsesAndFormatsFixed) {
  int64_t n = 0;
  ASSERT_TRUE(engine::ParseLogTime("1970-01-01T00:00:01.5Z", &n));
  EXPECT_EQ(n, 1500000000);
  ASSERT_TRUE(engine::ParseLogTime("2026-11-28T03:24:58.428524580Z", &n));
  std::string s;
  engine::AppendLogTimeFixed(s, n);
  EXPECT_EQ(s, "2026-11-28T03:24:58.428524580Z");
  ASSERT_TRUE(engine::ParseLogTime("2026-11-28T04:24:58+01:00", &n));
  s.clear();
  engine::AppendLogTimeFixed(s, n);
  EXPECT_EQ(s, "2026-11-28T03:24:58.000000000Z");
  EXPECT_FALSE(engine::ParseLogTime("2026-11-28 03:24:58Z", &n));
  EXPECT_FALSE(engine::ParseLogTime("2026-11-28T03:24:58", &n));
}

TEST(LogReader, FramesManyLinesOfOneStreamTogetherWithTimestamps) {
  TempDir d;
  std::string path = d.path() + "/c-json.log";
  shim::LogFile f;
  std::string err;
  ASSERT_TRUE(f.Open(path, -1, 1, false, &err)) << err;
  f.Append("a\nb\n", "stdout", 1500000000);
  f.Append("e\n", "stderr", 2000000000);
  f.Append("c\npartial", "stdout", 3000000000);
  auto frames = Frames(ReadAll(path, {}));
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0], std::make_pair(1, std::string("a\nb\n")));
  EXPECT_EQ(frames[1], std::make_pair(2, std::string("e\n")));
  EXPECT_EQ(frames[2], std::make_pair(1, std::string("c\npartial")));

  LogReadOptions o = Raw();
  o.timestamps = true;
  o.want_stderr = false;
  EXPECT_EQ(ReadAll(path, o),
            "1970-01-01T00:00:01.500000000Z a\n1970-01-01T00:00:01.500000000Z b\n"
            "1970-01-01T00:00:03.000000000Z c\n1970-01-01T00:00:03.000000000Z partial");
  o = Raw();
  o.details = true;
  o.since = 2000000000;
  EXPECT_EQ(ReadAll(path, o), " e\n c\n partial");
  o = Raw();
  o.until = 2000000000;
  EXPECT_EQ(ReadAll(path, o), "a\nb\ne\n");
  o = Raw();
  o.tail = 2;
  EXPECT_EQ(ReadAll(path, o), "c\npartial");
  o.tail = 0;
  EXPECT_EQ(ReadAll(path, o), "");
}

TEST(LogReader, VeryLongLinesCrossReadBlocks) {
  TempDir d;
  std::string path = d.path() + "/c-json.log";
  shim::LogFile f;
  std::string err;
  ASSERT_TRUE(f.Open(path, -1, 1, false, &err));
  std::string big(3 << 20, 'q');
  big[12345] = '"';  // escaped, so the decoded text differs from the file's bytes
  big += '\n';
  f.Append(big, "stdout", 1);
  f.Append("after\n", "stdout", 2);
  EXPECT_EQ(ReadAll(path, Raw()), big + "after\n");
  LogReadOptions o = Raw();
  o.tail = 2;
  EXPECT_EQ(ReadAll(path, o), big + "after\n");
}

TEST(LogFile, RotatesLikeDockerAndTheReaderReadsAcrossFiles) {
  TempDir d;
  std::string path = d.path() + "/c-json.log";
  shim::LogFile f;
  std::string err;
  ASSERT_TRUE(f.Open(path, 1000, 3, false, &err));
  std::string all;
  for (int i = 0; i < 200; ++i) {
    std::string l = "line " + std::to_string(i) + "\n";
    f.Append(l, "stdout", 1000 + i);
    all += l;
  }
  EXPECT_TRUE(Exists(path));
  EXPECT_TRUE(Exists(path + ".1"));
  EXPECT_TRUE(Exists(path + ".2"));
  EXPECT_FALSE(Exists(path + ".3"));
  struct stat st;
  ASSERT_EQ(stat((path + ".1").c_str(), &st), 0);
  EXPECT_GE(st.st_size, 1000);
  EXPECT_LT(st.st_size, 1100);  // the entry that filled it stays, the next one starts a file
  std::string got = ReadAll(path, Raw());
  ASSERT_FALSE(got.empty());
  EXPECT_TRUE(all.size() >= got.size() && all.compare(all.size() - got.size(), got.size(), got) == 0)
      << got;  // a contiguous run of the last lines
  LogReadOptions o = Raw();
  o.tail = 30;  // more than the live file holds
  std::string tail = ReadAll(path, o);
  std::string want;
  for (int i = 170; i < 200; ++i) want += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(tail, want);
}

TEST(LogFile, MaxFileOneTruncates) {
  TempDir d;
  std::string path = d.path() + "/c-json.log";
  shim::LogFile f;
  std::string err;
  ASSERT_TRUE(f.Open(path, 500, 1, false, &err));
  for (int i = 0; i < 100; ++i) f.Append("line " + std::to_string(i) + "\n", "stdout", 1);
  EXPECT_FALSE(Exists(path + ".1"));
  std::string got = ReadAll(path, Raw());
  EXPECT_THAT(got, testing::EndsWith("line 99\n"));
  EXPECT_LT(got.size(), 100u);
}

TEST(LogFile, CompressesRotatedFiles) {
  TempDir d;
  std::string path = d.path() + "/c-json.log";
  std::string all;
  {
    shim::LogFile f;
    std::string err;
    ASSERT_TRUE(f.Open(path, 1000, 4, true, &err));
    for (int i = 0; i < 150; ++i) {
      std::string l = "line " + std::to_string(i) + "\n";
      f.Append(l, "stderr", 1000 + i);
      all += l;
    }
  }
  for (int i = 0; i < 100 && Exists(path + ".1"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Exists(path + ".1"));
  EXPECT_TRUE(Exists(path + ".1.gz"));
  EXPECT_TRUE(Exists(path + ".2.gz"));
  EXPECT_TRUE(Exists(path + ".3.gz"));
  EXPECT_FALSE(Exists(path + ".4.gz"));
  auto frames = Frames(ReadAll(path, {}));
  std::string got;
  for (auto& [stream, text] : frames) {
    EXPECT_EQ(stream, 2);
    got += text;
  }
  ASSERT_FALSE(got.empty());
  EXPECT_TRUE(all.compare(all.size() - got.size(), got.size(), got) == 0) << got;
  // three rotated files of ~13 entries of ~80 bytes each, and the live one
  EXPECT_GT(std::count(got.begin(), got.end(), '\n'), 3 * 12);
}

TEST(LogReader, FollowsARotationWithoutLossOrRepeats) {
  TempDir d;
  std::string path = d.path() + "/c-json.log";
  shim::LogFile f;
  std::string err;
  ASSERT_TRUE(f.Open(path, 400, 20, false, &err));
  LogReader r(path, Raw());
  ASSERT_TRUE(r.Open().ok());
  std::string got, want;
  auto sink = [&](std::string_view s) {
    got.append(s);
    return true;
  };
  for (int i = 0; i < 300; ++i) {
    std::string l = "line " + std::to_string(i) + "\n";
    f.Append(l, "stdout", 1);
    want += l;
    if (i % 7 == 0) ASSERT_TRUE(r.ReadAvailable(sink));  // behind by several rotations at times
  }
  ASSERT_TRUE(r.ReadAvailable(sink));
  EXPECT_EQ(got, want);
}

TEST(LogConfig, DockerRulesAndMessages) {
  spec::LogConfig def{"json-file", spec::StringMap{}};
  auto msg = [&](spec::LogConfig c) {
    auto r = engine::ResolveLogConfig(c, def);
    return r.ok() ? std::string("ok") : std::string(r.status().message());
  };
  EXPECT_EQ(msg({"x", {}}), "logger: no log driver named 'x' is registered");
  EXPECT_EQ(msg({"json-file", spec::StringMap{{"foo", "1"}}}),
            "unknown log opt 'foo' for json-file log driver");
  EXPECT_EQ(msg({"local", spec::StringMap{{"foo", "1"}}}), "unknown log opt 'foo' for log driver local");
  EXPECT_EQ(msg({"json-file", spec::StringMap{{"max-size", "1x"}}}), "invalid size: '1x'");
  EXPECT_EQ(msg({"json-file", spec::StringMap{{"max-file", "two"}}}),
            "strconv.Atoi: parsing \"two\": invalid syntax");
  EXPECT_EQ(msg({"json-file", spec::StringMap{{"compress", "true"}, {"max-size", "1m"}}}),
            "compress cannot be true when max-file is less than 2 or max-size is not set");
  EXPECT_EQ(msg({"none", spec::StringMap{{"anything", "1"}}}), "ok");
  EXPECT_EQ(msg({"json-file", spec::StringMap{{"mode", "fast"}}}),
            "logger: logging mode not supported: fast");

  // An empty Type takes the daemon's driver and its options; the container's own win.
  spec::LogConfig daemon{"local", spec::StringMap{{"max-size", "5m"}, {"max-file", "3"}}};
  auto r = engine::ResolveLogConfig({"", spec::StringMap{{"max-file", "2"}}}, daemon);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->type, "local");
  EXPECT_EQ(*r->config, (spec::StringMap{{"max-size", "5m"}, {"max-file", "2"}}));
  r = engine::ResolveLogConfig({"json-file", std::nullopt}, daemon);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r->config, spec::StringMap{});

  auto s = engine::LogSettingsOf({"local", spec::StringMap{}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, (engine::LogSettings{"local", 20 << 20, 5, true}));
  s = engine::LogSettingsOf(
      {"json-file", spec::StringMap{{"max-size", "10m"}, {"max-file", "3"}, {"compress", "true"}}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, (engine::LogSettings{"json-file", 10000000, 3, true}));
  EXPECT_EQ(engine::ParseHumanSize("1.5k", false), 1500);
  EXPECT_EQ(engine::ParseHumanSize("2KiB", true), 2048);
  EXPECT_EQ(engine::ParseHumanSize("-1", false), -1);
}

}  // namespace
}  // namespace berth
