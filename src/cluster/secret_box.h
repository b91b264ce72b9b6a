#pragma once
// SecretBox: how secrets' and configs' data is kept at rest in the cluster store. Each value is
// sealed with AES-256-GCM under the swarm's data key, a random 32-byte key that exists only on
// the managers' disks (<data-root>/swarm/certificates/swarm-data.key, mode 0600): `swarm init`
// makes it, and a manager gets it from the leader over the cluster port's mutual TLS when it
// joins or is promoted. So the etcd data (its files, snapshots, backups) holds no plaintext, and
// neither do workers, which get only the secrets of the tasks they run, in memory.
// Sealed form: "v1:" + base64(nonce[12] | ciphertext | tag[16]); the record's id is the
// additional data, so a sealed value cannot be moved to another record.
//
// Thread-safe (immutable after Load/Generate).

#include <string>
#include <string_view>

#include "common/status.h"

namespace berth::cluster {

class SecretBox {
 public:
  // A new random key, written to path (0600).
  static StatusOr<SecretBox> Generate(const std::string& path);
  static StatusOr<SecretBox> Load(const std::string& path);
  // From raw key bytes (sent to a joining manager); written to path when it is not empty.
  static StatusOr<SecretBox> FromKey(std::string_view key, const std::string& path);

  StatusOr<std::string> Seal(std::string_view plain, std::string_view record_id) const;
  StatusOr<std::string> Open(std::string_view sealed, std::string_view record_id) const;
  const std::string& key() const { return key_; }

 private:
  explicit SecretBox(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace berth::cluster
