// container.Config, HealthConfig and types.MountPoint in moby 20.10's field order
// (api/types/container/config.go, api/types/types.go).

#include "spec/json/codecs.h"

namespace berth::spec::json {
namespace {

std::vector<FieldSpec<ContainerConfig>> BuildContainerConfigFields() {
  using C = ContainerConfig;
  return {
      Field("Hostname", &C::hostname, String()),
      Field("Domainname", &C::domainname, String()),
      Field("User", &C::user, String()),
      Field("AttachStdin", &C::attach_stdin, Bool()),
      Field("AttachStdout", &C::attach_stdout, Bool()),
      Field("AttachStderr", &C::attach_stderr, Bool()),
      Field("ExposedPorts", &C::exposed_ports, KeySet("nat.PortSet"), true),
      Field("Tty", &C::tty, Bool()),
      Field("OpenStdin", &C::open_stdin, Bool()),
      Field("StdinOnce", &C::stdin_once, Bool()),
      Field("Env", &C::env, Optional(Slice(String()))),
      Field("Cmd", &C::cmd, Optional(StrSliceCodec())),
      Field("Healthcheck", &C::healthcheck, Optional(HealthConfigCodec()), true),
      Field("ArgsEscaped", &C::args_escaped, Bool(), true),
      Field("Image", &C::image, String()),
      Field("Volumes", &C::volumes, Optional(KeySet("map[string]struct {}"))),
      Field("WorkingDir", &C::working_dir, String()),
      Field("Entrypoint", &C::entrypoint, Optional(StrSliceCodec())),
      Field("NetworkDisabled", &C::network_disabled, Bool(), true),
      Field("MacAddress", &C::mac_address, String(), true),
      Field("OnBuild", &C::on_build, Optional(Slice(String()))),
      Field("Labels", &C::labels, Optional(Map(String()))),
      Field("StopSignal", &C::stop_signal, String(), true),
      Field("StopTimeout", &C::stop_timeout, Optional(Int("int")), true),
      Field("Shell", &C::shell, StrSliceCodec(), true),
  };
}

}  // namespace

const std::vector<FieldSpec<ContainerConfig>>& ContainerConfigFields() {
  static const auto* fields = new std::vector<FieldSpec<ContainerConfig>>(BuildContainerConfigFields());
  return *fields;
}

const Codec<ContainerConfig>& ContainerConfigCodec() {
  static const auto* codec = new Codec<ContainerConfig>(
      Struct<ContainerConfig>("Config", "container.Config", ContainerConfigFields()));
  return *codec;
}

const Codec<HealthConfig>& HealthConfigCodec() {
  static const auto* codec = new Codec<HealthConfig>(Struct<HealthConfig>(
      "HealthConfig", "container.HealthConfig",
      {Field("Test", &HealthConfig::test, Slice(String()), true),
       Field("Interval", &HealthConfig::interval, Int("time.Duration"), true),
       Field("Timeout", &HealthConfig::timeout, Int("time.Duration"), true),
       Field("StartPeriod", &HealthConfig::start_period, Int("time.Duration"), true),
       Field("Retries", &HealthConfig::retries, Int("int"), true)}));
  return *codec;
}

const Codec<MountPoint>& MountPointCodec() {
  using M = MountPoint;
  static const auto* codec = new Codec<MountPoint>(Struct<MountPoint>(
      "MountPoint", "types.MountPoint",
      {Field("Type", &M::type, String("mount.Type"), true), Field("Name", &M::name, String(), true),
       Field("Source", &M::source, String()), Field("Destination", &M::destination, String()),
       Field("Driver", &M::driver, String(), true), Field("Mode", &M::mode, String()),
       Field("RW", &M::rw, Bool()), Field("Propagation", &M::propagation, String("mount.Propagation"))}));
  return *codec;
}

}  // namespace berth::spec::json
