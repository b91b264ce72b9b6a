// The progress text and the stream display of Docker's jsonmessage, byte for byte against the
// strings of moby's pkg/jsonmessage tests (TestProgressString, TestDisplayJSONMessagesStream).
#include "api/client/jsonmessage.h"
#include "common/text.h"

#include <gtest/gtest.h>

namespace berth::client {
namespace {

using nlohmann::json;

constexpr int64_t kStart = 1512313801;  // 2017-12-03T15:10:01Z

struct ProgressCase {
  JsonProgress p;
  std::string short_form;  // width 100
  std::string long_form;   // width 200
};

TEST(JsonProgress, StringAsDocker) {
  JsonProgress with_units{50, 100, 0, false, "units"};
  JsonProgress with_units_over{50, 40, 0, false, "units"};
  std::vector<ProgressCase> cases = {
      {{}, "", ""},
      {{1, 0, 0, false, ""}, "      1B", "      1B"},
      {{20, 100, kStart, false, ""}, "     20B/100B 4s",
       "[==========>                                        ]      20B/100B 4s"},
      {{50, 100, 0, false, ""}, "     50B/100B",
       "[=========================>                         ]      50B/100B"},
      {{50, 40, 0, false, ""}, "     50B", "[==================================================>]      50B"},
      {with_units, "50/100 units", "[=========================>                         ] 50/100 units"},
      {with_units_over, "50 units", "[==================================================>] 50 units"},
      {{50, 100, 0, true, ""}, "", "[=========================>                         ] "},
  };
  int64_t now = (kStart + 1) * 1000000000;
  for (const auto& c : cases) {
    EXPECT_EQ(ProgressString(c.p, 100, now), c.short_form);
    EXPECT_EQ(ProgressString(c.p, 200, now), c.long_form);
  }
}

TEST(JsonProgress, HumanSizesOfALayer) {
  EXPECT_EQ(ProgressString({1230000, 4560000, 0, false, ""}, 200, 0),
            "[=============>                                     ]   1.23MB/4.56MB");
  EXPECT_EQ(berth::HumanSize(2159999), "2.16MB");
  EXPECT_EQ(berth::HumanSize(999), "999B");
  EXPECT_EQ(GoDurationSeconds(65), "1m5s");
  EXPECT_EQ(GoDurationSeconds(7203), "2h0m3s");
}

std::string Show(const std::vector<std::string>& lines, bool terminal, Status* last = nullptr) {
  std::string out;
  JsonMessageDisplay d([&](std::string_view s) { out.append(s); }, terminal, 200);
  for (const auto& l : lines) {
    Status st = d.Display(json::parse(l));
    if (last) *last = st;
  }
  return out;
}

TEST(JsonMessageDisplay, StreamAsDocker) {
  // moby's TestDisplayJSONMessagesStream: {non-terminal, terminal}.
  EXPECT_EQ(Show({R"({ "status": "status" })"}, false), "status\n");
  EXPECT_EQ(Show({R"({ "status": "status" })"}, true), "status\n");
  EXPECT_EQ(Show({R"({ "id": "ID","status": "status" })"}, false), "ID: status\n");
  EXPECT_EQ(Show({R"({ "id": "ID","status": "status" })"}, true), "ID: status\n");
  EXPECT_EQ(Show({R"({ "id": "ID", "status": "status", "progress": "ProgressMessage" })"}, false),
            "ID: status ProgressMessage");
  EXPECT_EQ(Show({R"({ "id": "ID", "status": "status", "progress": "ProgressMessage" })"}, true),
            "\n\x1b[1AID: status ProgressMessage\x1b[1B");
  EXPECT_EQ(Show({R"({ "id": "ID", "status": "status", "progressDetail": { "current": 1} })"}, false), "");
  EXPECT_EQ(Show({R"({ "id": "ID", "status": "status", "progressDetail": { "current": 1} })"}, true),
            "\n\x1b[1A\x1b[2K\rID: status       1B\r\x1b[1B");
}

TEST(JsonMessageDisplay, PullOffATerminal) {
  std::vector<std::string> pull = {
      R"({"status":"Pulling from library/busybox","id":"latest"})",
      R"({"status":"Pulling fs layer","progressDetail":{},"id":"e5d9363303dd"})",
      R"({"status":"Downloading","progressDetail":{"current":100,"total":200},"progress":"[==>  ]","id":"e5d9363303dd"})",
      R"({"status":"Verifying Checksum","progressDetail":{},"id":"e5d9363303dd"})",
      R"({"status":"Download complete","progressDetail":{},"id":"e5d9363303dd"})",
      R"({"status":"Pull complete","progressDetail":{},"id":"e5d9363303dd"})",
      R"({"status":"Digest: sha256:abc"})",
      R"({"status":"Status: Downloaded newer image for busybox:latest"})"};
  EXPECT_EQ(Show(pull, false),
            "latest: Pulling from library/busybox\n"
            "e5d9363303dd: Pulling fs layer\n"
            "e5d9363303dd: Verifying Checksum\n"
            "e5d9363303dd: Download complete\n"
            "e5d9363303dd: Pull complete\n"
            "Digest: sha256:abc\n"
            "Status: Downloaded newer image for busybox:latest\n");
  // On a terminal the layer's line is rewritten in place: a new line once, then up, clear,
  // rewrite, down.
  std::string term = Show({pull[1], pull[2]}, true);
  EXPECT_EQ(term,
            "\n\x1b[1A\x1b[2K\re5d9363303dd: Pulling fs layer \r\x1b[1B"
            "\x1b[1A\x1b[2K\re5d9363303dd: Downloading "
            "[=========================>                         ]     100B/200B\r\x1b[1B");
}

TEST(JsonMessageDisplay, ErrorsAndAux) {
  Status st;
  std::string out = Show({R"({"errorDetail":{"message":"boom"},"error":"boom"})"}, false, &st);
  EXPECT_EQ(out, "");
  EXPECT_EQ(st.message(), "boom");
  std::string aux_digest;
  std::string text;
  JsonMessageDisplay d([&](std::string_view s) { text.append(s); }, false, 200);
  d.on_aux = [&](const json& a) { aux_digest = a.value("Digest", ""); };
  ASSERT_TRUE(d.Display(json::parse(R"({"progressDetail":{},"aux":{"Tag":"latest","Digest":"sha256:1","Size":527}})")).ok());
  EXPECT_EQ(aux_digest, "sha256:1");
  EXPECT_EQ(text, "");
}

}  // namespace
}  // namespace berth::client
