// SecretBox: secrets and configs sealed at rest with the swarm's data key (AES-256-GCM, bound to
// the record's id), the key file private to its manager.

#include <sys/stat.h>

#include <filesystem>

#include "cluster/secret_box.h"
#include "gtest/gtest.h"

namespace berth::cluster {
namespace {

class SecretBoxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("bt-secretbox-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const char* name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(SecretBoxTest, SealsAndOpensBoundToTheRecord) {
  StatusOr<SecretBox> box = SecretBox::Generate(Path("data.key"));
  ASSERT_TRUE(box.ok()) << box.status();
  StatusOr<std::string> sealed = box->Seal("s3cr3t-value", "id1");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->rfind("v1:", 0), 0u);
  EXPECT_EQ(sealed->find("s3cr3t"), std::string::npos);
  StatusOr<std::string> plain = box->Open(*sealed, "id1");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, "s3cr3t-value");
  // Another record's id, a changed byte, another key: refused.
  EXPECT_FALSE(box->Open(*sealed, "id2").ok());
  // A changed character in the middle (the last ones may be only padding bits).
  std::string tampered = *sealed;
  size_t mid = tampered.size() / 2;
  tampered[mid] = tampered[mid] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(box->Open(tampered, "id1").ok());
  StatusOr<SecretBox> other = SecretBox::Generate(Path("other.key"));
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->Open(*sealed, "id1").ok());
  EXPECT_FALSE(box->Open("plain text", "id1").ok());
  // Two seals of one value differ (a fresh nonce each).
  EXPECT_NE(*box->Seal("x", "id1"), *box->Seal("x", "id1"));
  // Empty and binary values survive.
  EXPECT_EQ(*box->Open(*box->Seal("", "e"), "e"), "");
  std::string bin("\0\1\2\xff", 4);
  EXPECT_EQ(*box->Open(*box->Seal(bin, "b"), "b"), bin);
}

TEST_F(SecretBoxTest, TheKeyFileIsPrivateAndLoadsAgain) {
  StatusOr<SecretBox> box = SecretBox::Generate(Path("data.key"));
  ASSERT_TRUE(box.ok());
  struct stat st {};
  ASSERT_EQ(::stat(Path("data.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  StatusOr<SecretBox> again = SecretBox::Load(Path("data.key"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again->Open(*box->Seal("v", "r"), "r"), "v");
  // A joining manager gets the key bytes.
  StatusOr<SecretBox> copy = SecretBox::FromKey(box->key(), Path("copy.key"));
  ASSERT_TRUE(copy.ok());
  EXPECT_EQ(*copy->Open(*box->Seal("v", "r"), "r"), "v");
  EXPECT_FALSE(SecretBox::FromKey("short", "").ok());
  EXPECT_FALSE(SecretBox::Load(Path("missing.key")).ok());
}

}  // namespace
}  // namespace berth::cluster
