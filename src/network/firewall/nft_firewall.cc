// The simple Firewall implementations: the command one feeds Render's script to an `nft -f -`
// subprocess per change (tests put wrappers there); the no-op one is berthd --iptables=false.
// berthd's own, through the long-running berth-nft helper, is in nft_helper_firewall.cc.

#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "network/firewall/firewall.h"
#include "network/firewall/nft_error.h"
#include "sys/subprocess.h"

namespace berth::network::firewall {
namespace {

// Threading: every call holds mu_, so two scripts never race (each is atomic, but the last one
// applied must be the last model).
class NftFirewall final : public Firewall {
 public:
  explicit NftFirewall(std::string nft_binary) : nft_(std::move(nft_binary)) {}

  Status Apply(const Model& m) override {
    RETURN_IF_ERROR(Validate(m));
    std::lock_guard<std::mutex> lock(mu_);
    return Annotate(RunScript({"-f", "-"}, Render(m)), "apply table inet berth");
  }

  Status Remove() override {
    std::lock_guard<std::mutex> lock(mu_);
    return Annotate(RunScript({"-f", "-"}, RenderDelete()), "remove table inet berth");
  }

  // `nft -c` runs the whole transaction in the kernel and then aborts it, so checking the empty
  // model's script proves the binary, the privileges and every kernel feature the table uses
  // (nat, fib, ct, concatenated interval sets) without changing anything.
  Status Check() override {
    std::lock_guard<std::mutex> lock(mu_);
    return Annotate(RunScript({"-c", "-f", "-"}, Render(Model{})), "nftables check");
  }

 private:
  Status RunScript(std::vector<std::string> args, const std::string& script) {
    std::vector<std::string> argv = {nft_};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = sys::Run(argv, script);
    if (!r.ok()) {
      if (absl::IsNotFound(r.status()))
        return absl::FailedPreconditionError(
            absl::StrCat(nft_, " not found: install the nftables package (", r.status().message(), ")"));
      return r.status();
    }
    if (r->exit_code == 0) return absl::OkStatus();
    std::string err(absl::StripAsciiWhitespace(r->err));
    if (err.empty()) err = absl::StrCat("exit status ", r->exit_code);
    return NftError(absl::StrCat(nft_, " -f -"), err);
  }

  const std::string nft_;
  std::mutex mu_;
};

class NoopFirewall final : public Firewall {
 public:
  Status Apply(const Model& m) override { return Validate(m); }
  Status Remove() override { return absl::OkStatus(); }
  Status Check() override { return absl::OkStatus(); }
};

}  // namespace

std::unique_ptr<Firewall> NewNftCommandFirewall(std::string nft_binary) {
  return std::make_unique<NftFirewall>(std::move(nft_binary));
}

std::unique_ptr<Firewall> NewNoopFirewall() { return std::make_unique<NoopFirewall>(); }

}  // namespace berth::network::firewall
