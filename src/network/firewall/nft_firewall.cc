// Firewall implementations: the real one hands Render's script to libnftables in the daemon's own
// process (the same parser and one atomic transaction as `nft -f -`, without a fork and exec per
// change); the command one feeds it to an `nft -f -` subprocess (tests put wrappers there); the
// no-op one is berthd --iptables=false.

#include <nftables/libnftables.h>

#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "network/firewall/firewall.h"
#include "sys/subprocess.h"

namespace berth::network::firewall {
namespace {

Status NftError(std::string_view who, std::string err) {
  std::string msg = absl::StrCat(Av(who), ": ", err);
  if (absl::StrContains(err, "Operation not permitted"))
    return absl::PermissionDeniedError(msg + " (berthd needs CAP_NET_ADMIN)");
  return absl::InternalError(msg);
}

// Threading: every call holds mu_, so two scripts never race (each is atomic, but the last one
// applied must be the last model); the context is not thread-safe either.
class LibNftFirewall final : public Firewall {
 public:
  LibNftFirewall() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
    if (ctx_ != nullptr) {
      nft_ctx_buffer_output(ctx_);
      nft_ctx_buffer_error(ctx_);
    }
  }
  ~LibNftFirewall() override {
    if (ctx_ != nullptr) nft_ctx_free(ctx_);
  }

  Status Apply(const Model& m) override {
    RETURN_IF_ERROR(Validate(m));
    std::lock_guard<std::mutex> lock(mu_);
    return Annotate(RunScript(Render(m), false), "apply table inet berth");
  }

  Status Remove() override {
    std::lock_guard<std::mutex> lock(mu_);
    return Annotate(RunScript(RenderDelete(), false), "remove table inet berth");
  }

  // A dry run goes through the kernel's whole transaction and then aborts it (as `nft -c`), so
  // the empty model's script proves the privileges and every kernel feature the table uses.
  Status Check() override {
    std::lock_guard<std::mutex> lock(mu_);
    return Annotate(RunScript(Render(Model{}), true), "nftables check");
  }

 private:
  Status RunScript(const std::string& script, bool dry_run) {
    if (ctx_ == nullptr) return absl::InternalError("libnftables: cannot create a context");
    nft_ctx_set_dry_run(ctx_, dry_run);
    int rc = nft_run_cmd_from_buffer(ctx_, script.c_str());
    nft_ctx_set_dry_run(ctx_, false);
    std::string err(absl::StripAsciiWhitespace(nft_ctx_get_error_buffer(ctx_)));
    (void)nft_ctx_get_output_buffer(ctx_);  // drained: the buffers grow otherwise
    if (rc == 0) return absl::OkStatus();
    if (err.empty()) err = "the transaction was refused";
    return NftError("libnftables", err);
  }

  nft_ctx* ctx_;
  std::mutex mu_;
};

// Threading: as LibNftFirewall.
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

std::unique_ptr<Firewall> NewNftFirewall() { return std::make_unique<LibNftFirewall>(); }

std::unique_ptr<Firewall> NewNftCommandFirewall(std::string nft_binary) {
  return std::make_unique<NftFirewall>(std::move(nft_binary));
}

std::unique_ptr<Firewall> NewNoopFirewall() { return std::make_unique<NoopFirewall>(); }

}  // namespace berth::network::firewall
