#pragma once
// A docker-style (spf13/pflag) flag parser: --name=value, --name value, -n value, -nvalue, bundled
// booleans (-itd), "--" ends the flags, a lone "-" is a positional. With interspersed parsing off
// (run, create, exec) parsing stops at the first positional, so everything after the image is
// the command, flags included ("run busybox ls -l").

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace berth::cli {

class FlagSet {
 public:
  void Bool(std::string name, char shorthand, bool* dst);
  void String(std::string name, char shorthand, std::string* dst);
  // Repeatable: each occurrence appends.
  void StringList(std::string name, char shorthand, std::vector<std::string>* dst);
  void Int(std::string name, char shorthand, int64_t* dst);
  // A Go duration ("1m30s"), stored as nanoseconds.
  void Duration(std::string name, char shorthand, int64_t* nanos);
  void SetInterspersed(bool on) { interspersed_ = on; }

  // pflag's messages on failure: "unknown flag: --x", "unknown shorthand flag: 'x' in -x",
  // "flag needs an argument: --name", "flag needs an argument: 'e' in -e", ...
  Status Parse(const std::vector<std::string>& args, std::vector<std::string>* positionals);
  bool Changed(std::string_view name) const;
  bool help() const { return help_; }

 private:
  enum class Kind { kBool, kString, kList, kInt, kDuration };
  struct Flag {
    std::string name;
    char shorthand;
    Kind kind;
    void* dst;
    bool changed = false;
  };
  Flag* Find(std::string_view name);
  Flag* FindShort(char c);
  Status Set(Flag& f, std::string_view value, std::string_view as_typed);

  std::vector<Flag> flags_;
  bool interspersed_ = true;
  bool help_ = false;
};

}  // namespace berth::cli
