#include "cli/flags.h"

#include <charconv>

#include "cli/opts.h"

namespace berth::cli {
namespace {

absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string FlagName(char shorthand, const std::string& name) {
  if (shorthand != 0) return absl::StrCat("-", std::string(1, shorthand), ", --", name);
  return absl::StrCat("--", name);
}

}  // namespace

void FlagSet::Bool(std::string name, char shorthand, bool* dst) {
  flags_.push_back({std::move(name), shorthand, Kind::kBool, dst});
}
void FlagSet::String(std::string name, char shorthand, std::string* dst) {
  flags_.push_back({std::move(name), shorthand, Kind::kString, dst});
}
void FlagSet::StringList(std::string name, char shorthand, std::vector<std::string>* dst) {
  flags_.push_back({std::move(name), shorthand, Kind::kList, dst});
}
void FlagSet::Int(std::string name, char shorthand, int64_t* dst) {
  flags_.push_back({std::move(name), shorthand, Kind::kInt, dst});
}
void FlagSet::Duration(std::string name, char shorthand, int64_t* nanos) {
  flags_.push_back({std::move(name), shorthand, Kind::kDuration, nanos});
}

FlagSet::Flag* FlagSet::Find(std::string_view name) {
  for (auto& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

FlagSet::Flag* FlagSet::FindShort(char c) {
  for (auto& f : flags_) {
    if (f.shorthand == c) return &f;
  }
  return nullptr;
}

bool FlagSet::Changed(std::string_view name) const {
  for (const auto& f : flags_) {
    if (f.name == name) return f.changed;
  }
  return false;
}

Status FlagSet::Set(Flag& f, std::string_view value, std::string_view as_typed) {
  f.changed = true;
  switch (f.kind) {
    case Kind::kBool: {
      bool v;
      if (value == "true" || value == "1" || value == "t" || value == "T" || value == "TRUE" ||
          value == "True") {
        v = true;
      } else if (value == "false" || value == "0" || value == "f" || value == "F" ||
                 value == "FALSE" || value == "False") {
        v = false;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid argument \"", Av(value), "\" for \"", FlagName(f.shorthand, f.name),
            "\" flag: strconv.ParseBool: parsing \"", Av(value), "\": invalid syntax"));
      }
      *static_cast<bool*>(f.dst) = v;
      return absl::OkStatus();
    }
    case Kind::kString:
      *static_cast<std::string*>(f.dst) = std::string(value);
      return absl::OkStatus();
    case Kind::kList:
      static_cast<std::vector<std::string>*>(f.dst)->emplace_back(value);
      return absl::OkStatus();
    case Kind::kInt: {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc() || ptr != value.data() + value.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid argument \"", Av(value), "\" for \"", FlagName(f.shorthand, f.name),
            "\" flag: strconv.ParseInt: parsing \"", Av(value), "\": invalid syntax"));
      }
      *static_cast<int64_t*>(f.dst) = v;
      return absl::OkStatus();
    }
    case Kind::kDuration: {
      auto d = ParseGoDuration(value);
      if (!d.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("invalid argument \"", Av(value), "\" for \"",
                                                       FlagName(f.shorthand, f.name), "\" flag: ",
                                                       d.status().message()));
      }
      *static_cast<int64_t*>(f.dst) = d->count();
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

Status FlagSet::Parse(const std::vector<std::string>& args, std::vector<std::string>* positionals) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      positionals->insert(positionals->end(), args.begin() + i + 1, args.end());
      return absl::OkStatus();
    }
    if (a.size() < 2 || a[0] != '-') {
      positionals->push_back(a);
      if (!interspersed_) {
        positionals->insert(positionals->end(), args.begin() + i + 1, args.end());
        return absl::OkStatus();
      }
      continue;
    }
    if (a[1] == '-') {
      std::string_view body = std::string_view(a).substr(2);
      size_t eq = body.find('=');
      std::string_view name = body.substr(0, eq);
      Flag* f = Find(name);
      if (f == nullptr) {
        if (name == "help") {
          help_ = true;
          continue;
        }
        return absl::InvalidArgumentError(absl::StrCat("unknown flag: --", Av(name)));
      }
      if (eq != std::string_view::npos) {
        RETURN_IF_ERROR(Set(*f, body.substr(eq + 1), a));
      } else if (f->kind == Kind::kBool) {
        RETURN_IF_ERROR(Set(*f, "true", a));
      } else if (i + 1 < args.size()) {
        RETURN_IF_ERROR(Set(*f, args[++i], a));
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag needs an argument: --", Av(name)));
      }
      continue;
    }
    // Shorthands: "-itd", "-p8080:80", "-e" "X=1", "-t=10".
    std::string_view shorts = std::string_view(a).substr(1);
    while (!shorts.empty()) {
      char c = shorts[0];
      Flag* f = FindShort(c);
      if (f == nullptr) {
        if (c == 'h') {
          help_ = true;
          shorts.remove_prefix(1);
          continue;
        }
        return absl::InvalidArgumentError(
            absl::StrCat("unknown shorthand flag: '", std::string(1, c), "' in -", Av(shorts)));
      }
      std::string_view rest = shorts.substr(1);
      if (!rest.empty() && rest[0] == '=') {
        RETURN_IF_ERROR(Set(*f, rest.substr(1), a));
        break;
      }
      if (f->kind == Kind::kBool) {
        RETURN_IF_ERROR(Set(*f, "true", a));
        shorts = rest;
        continue;
      }
      if (!rest.empty()) {
        RETURN_IF_ERROR(Set(*f, rest, a));
      } else if (i + 1 < args.size()) {
        RETURN_IF_ERROR(Set(*f, args[++i], a));
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("flag needs an argument: '", std::string(1, c), "' in -", Av(shorts)));
      }
      break;
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::cli
