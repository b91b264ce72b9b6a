// Placeholder until the reference parser lands (issue 9): every call is Unimplemented.
#include "registry/reference.h"

namespace berth::registry {

std::string Reference::Name() const { return domain + "/" + path; }
std::string Reference::FamiliarName() const { return Name(); }
std::string Reference::String() const { return Name(); }
std::string Reference::FamiliarString() const { return Name(); }
StatusOr<Reference> ParseNormalized(std::string_view) {
  return absl::UnimplementedError("image references are not parsed yet");
}
Reference WithDefaultTag(Reference r) { return r; }
bool ValidDigest(std::string_view) { return false; }

}  // namespace berth::registry
