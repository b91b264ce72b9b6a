// HostConfig, Resources, UpdateConfig and the mount types, in moby 20.10's field order
// (api/types/container/host_config.go, api/types/mount/mount.go).

#include "spec/json/codecs.h"

namespace berth::spec::json {
namespace {


Codec<uint16_t> Uint16() { return Narrow<uint16_t>(Uint("uint16", 0xFFFF)); }

Codec<std::vector<std::string>> Strings() { return Slice(String()); }
Codec<StringMap> Strings2() { return Map(String()); }

Codec<WeightDevice> WeightDeviceCodec() {
  return Struct<WeightDevice>("WeightDevice", "blkiodev.WeightDevice",
                              {Field("Path", &WeightDevice::path, String()),
                               Field("Weight", &WeightDevice::weight, Uint16())});
}

Codec<ThrottleDevice> ThrottleDeviceCodec() {
  return Struct<ThrottleDevice>("ThrottleDevice", "blkiodev.ThrottleDevice",
                                {Field("Path", &ThrottleDevice::path, String()),
                                 Field("Rate", &ThrottleDevice::rate, Uint("uint64"))});
}

Codec<std::optional<std::vector<ThrottleDevice>>> Throttles() {
  return Optional(Slice(ThrottleDeviceCodec(), "[]*blkiodev.ThrottleDevice"));
}

Codec<DeviceMapping> DeviceMappingCodec() {
  return Struct<DeviceMapping>(
      "DeviceMapping", "container.DeviceMapping",
      {Field("PathOnHost", &DeviceMapping::path_on_host, String()),
       Field("PathInContainer", &DeviceMapping::path_in_container, String()),
       Field("CgroupPermissions", &DeviceMapping::cgroup_permissions, String())});
}

Codec<DeviceRequest> DeviceRequestCodec() {
  return Struct<DeviceRequest>(
      "DeviceRequest", "container.DeviceRequest",
      {Field("Driver", &DeviceRequest::driver, String()),
       Field("Count", &DeviceRequest::count, Int("int")),
       Field("DeviceIDs", &DeviceRequest::device_ids, Optional(Strings())),
       Field("Capabilities", &DeviceRequest::capabilities, Optional(Slice(Strings()))),
       Field("Options", &DeviceRequest::options, Optional(Strings2()))});
}

Codec<Ulimit> UlimitCodec() {
  return Struct<Ulimit>("Ulimit", "units.Ulimit",
                        {Field("Name", &Ulimit::name, String()),
                         Field("Hard", &Ulimit::hard, Int("int64")),
                         Field("Soft", &Ulimit::soft, Int("int64"))});
}

Codec<LogConfig> LogConfigCodec() {
  return Struct<LogConfig>("LogConfig", "container.LogConfig",
                           {Field("Type", &LogConfig::type, String()),
                            Field("Config", &LogConfig::config, Optional(Strings2()))});
}

Codec<PortBinding> PortBindingCodec() {
  return Struct<PortBinding>("PortBinding", "nat.PortBinding",
                             {Field("HostIp", &PortBinding::host_ip, String()),
                              Field("HostPort", &PortBinding::host_port, String())});
}

Codec<MountDriver> MountDriverCodec() {
  return Struct<MountDriver>("Driver", "mount.Driver",
                             {Field("Name", &MountDriver::name, String(), true),
                              Field("Options", &MountDriver::options, Strings2(), true)});
}

std::vector<FieldSpec<Resources>> BuildResourcesFields() {
  using R = Resources;
  return {
      Field("CpuShares", &R::cpu_shares, Int("int64")),
      Field("Memory", &R::memory, Int("int64")),
      Field("NanoCpus", &R::nano_cpus, Int("int64")),
      Field("CgroupParent", &R::cgroup_parent, String()),
      Field("BlkioWeight", &R::blkio_weight, Uint16()),
      Field("BlkioWeightDevice", &R::blkio_weight_device,
            Optional(Slice(WeightDeviceCodec(), "[]*blkiodev.WeightDevice"))),
      Field("BlkioDeviceReadBps", &R::blkio_device_read_bps, Throttles()),
      Field("BlkioDeviceWriteBps", &R::blkio_device_write_bps, Throttles()),
      Field("BlkioDeviceReadIOps", &R::blkio_device_read_iops, Throttles()),
      Field("BlkioDeviceWriteIOps", &R::blkio_device_write_iops, Throttles()),
      Field("CpuPeriod", &R::cpu_period, Int("int64")),
      Field("CpuQuota", &R::cpu_quota, Int("int64")),
      Field("CpuRealtimePeriod", &R::cpu_realtime_period, Int("int64")),
      Field("CpuRealtimeRuntime", &R::cpu_realtime_runtime, Int("int64")),
      Field("CpusetCpus", &R::cpuset_cpus, String()),
      Field("CpusetMems", &R::cpuset_mems, String()),
      Field("Devices", &R::devices, Optional(Slice(DeviceMappingCodec()))),
      Field("DeviceCgroupRules", &R::device_cgroup_rules, Optional(Strings())),
      Field("DeviceRequests", &R::device_requests, Optional(Slice(DeviceRequestCodec()))),
      Field("KernelMemory", &R::kernel_memory, Int("int64")),
      Field("KernelMemoryTCP", &R::kernel_memory_tcp, Int("int64")),
      Field("MemoryReservation", &R::memory_reservation, Int("int64")),
      Field("MemorySwap", &R::memory_swap, Int("int64")),
      Field("MemorySwappiness", &R::memory_swappiness, Optional(Int("int64"))),
      Field("OomKillDisable", &R::oom_kill_disable, Optional(Bool())),
      Field("PidsLimit", &R::pids_limit, Optional(Int("int64"))),
      Field("Ulimits", &R::ulimits, Optional(Slice(UlimitCodec(), "[]*units.Ulimit"))),
      Field("CpuCount", &R::cpu_count, Int("int64")),
      Field("CpuPercent", &R::cpu_percent, Int("int64")),
      Field("IOMaximumIOps", &R::io_maximum_iops, Uint("uint64")),
      Field("IOMaximumBandwidth", &R::io_maximum_bandwidth, Uint("uint64")),
  };
}

std::vector<FieldSpec<HostConfig>> BuildHostConfigFields() {
  using H = HostConfig;
  std::vector<FieldSpec<H>> before = {
      Field("Binds", &H::binds, Optional(Strings())),
      Field("ContainerIDFile", &H::container_id_file, String()),
      Field("LogConfig", &H::log_config, LogConfigCodec()),
      Field("NetworkMode", &H::network_mode, String("container.NetworkMode")),
      Field("PortBindings", &H::port_bindings,
            Optional(Map(Optional(Slice(PortBindingCodec(), "[]nat.PortBinding")), "nat.PortMap"))),
      Field("RestartPolicy", &H::restart_policy, RestartPolicyCodec()),
      Field("AutoRemove", &H::auto_remove, Bool()),
      Field("VolumeDriver", &H::volume_driver, String()),
      Field("VolumesFrom", &H::volumes_from, Optional(Strings())),
      Field("CapAdd", &H::cap_add, Optional(StrSliceCodec())),
      Field("CapDrop", &H::cap_drop, Optional(StrSliceCodec())),
      Field("CgroupnsMode", &H::cgroupns_mode, String("container.CgroupnsMode")),
      Field("Dns", &H::dns, Optional(Strings())),
      Field("DnsOptions", &H::dns_options, Optional(Strings())),
      Field("DnsSearch", &H::dns_search, Optional(Strings())),
      Field("ExtraHosts", &H::extra_hosts, Optional(Strings())),
      Field("GroupAdd", &H::group_add, Optional(Strings())),
      Field("IpcMode", &H::ipc_mode, String("container.IpcMode")),
      Field("Cgroup", &H::cgroup, String("container.CgroupSpec")),
      Field("Links", &H::links, Optional(Strings())),
      Field("OomScoreAdj", &H::oom_score_adj, Int("int")),
      Field("PidMode", &H::pid_mode, String("container.PidMode")),
      Field("Privileged", &H::privileged, Bool()),
      Field("PublishAllPorts", &H::publish_all_ports, Bool()),
      Field("ReadonlyRootfs", &H::readonly_rootfs, Bool()),
      Field("SecurityOpt", &H::security_opt, Optional(Strings())),
      Field("StorageOpt", &H::storage_opt, Strings2(), true),
      Field("Tmpfs", &H::tmpfs, Strings2(), true),
      Field("UTSMode", &H::uts_mode, String("container.UTSMode")),
      Field("UsernsMode", &H::userns_mode, String("container.UsernsMode")),
      Field("ShmSize", &H::shm_size, Int("int64")),
      Field("Sysctls", &H::sysctls, Strings2(), true),
      Field("Runtime", &H::runtime, String(), true),
      Field("ConsoleSize", &H::console_size, Array<uint64_t, 2>(Uint("uint"))),
      Field("Isolation", &H::isolation, String("container.Isolation")),
  };
  std::vector<FieldSpec<H>> after = {
      Field("Mounts", &H::mounts, Slice(MountCodec()), true),
      Field("MaskedPaths", &H::masked_paths, Optional(Strings())),
      Field("ReadonlyPaths", &H::readonly_paths, Optional(Strings())),
      Field("Init", &H::init, Optional(Bool()), true),
  };
  return Concat<H>({std::move(before), Promote(&H::resources, ResourcesFields()), std::move(after)});
}

}  // namespace

const Codec<RestartPolicy>& RestartPolicyCodec() {
  static const auto* codec = new Codec<RestartPolicy>(Struct<RestartPolicy>(
      "RestartPolicy", "container.RestartPolicy",
      {Field("Name", &RestartPolicy::name, String()),
       Field("MaximumRetryCount", &RestartPolicy::maximum_retry_count, Int("int"))}));
  return *codec;
}

const Codec<Mount>& MountCodec() {
  static const auto* codec = [] {
    auto bind = Struct<BindOptions>(
        "BindOptions", "mount.BindOptions",
        {Field("Propagation", &BindOptions::propagation, String("mount.Propagation"), true),
         Field("NonRecursive", &BindOptions::non_recursive, Bool(), true)});
    auto volume = Struct<VolumeOptions>(
        "VolumeOptions", "mount.VolumeOptions",
        {Field("NoCopy", &VolumeOptions::no_copy, Bool(), true),
         Field("Labels", &VolumeOptions::labels, Strings2(), true),
         Field("DriverConfig", &VolumeOptions::driver_config, Optional(MountDriverCodec()), true)});
    // Go 1.16+ prints os.FileMode as fs.FileMode (os.FileMode is an alias of it).
    auto tmpfs = Struct<TmpfsOptions>(
        "TmpfsOptions", "mount.TmpfsOptions",
        {Field("SizeBytes", &TmpfsOptions::size_bytes, Int("int64"), true),
         Field("Mode", &TmpfsOptions::mode, Narrow<uint32_t>(Uint("fs.FileMode", 0xFFFFFFFF)), true)});
    return new Codec<Mount>(Struct<Mount>(
        "Mount", "mount.Mount",
        {Field("Type", &Mount::type, String("mount.Type"), true),
         Field("Source", &Mount::source, String(), true),
         Field("Target", &Mount::target, String(), true),
         Field("ReadOnly", &Mount::read_only, Bool(), true),
         Field("Consistency", &Mount::consistency, String("mount.Consistency"), true),
         Field("BindOptions", &Mount::bind_options, Optional(bind), true),
         Field("VolumeOptions", &Mount::volume_options, Optional(volume), true),
         Field("TmpfsOptions", &Mount::tmpfs_options, Optional(tmpfs), true)}));
  }();
  return *codec;
}

const std::vector<FieldSpec<Resources>>& ResourcesFields() {
  static const auto* fields = new std::vector<FieldSpec<Resources>>(BuildResourcesFields());
  return *fields;
}

const std::vector<FieldSpec<HostConfig>>& HostConfigFields() {
  static const auto* fields = new std::vector<FieldSpec<HostConfig>>(BuildHostConfigFields());
  return *fields;
}

const Codec<HostConfig>& HostConfigCodec() {
  static const auto* codec =
      new Codec<HostConfig>(Struct<HostConfig>("HostConfig", "container.HostConfig", HostConfigFields()));
  return *codec;
}

const Codec<UpdateConfig>& UpdateConfigCodec() {
  static const auto* codec = new Codec<UpdateConfig>(Struct<UpdateConfig>(
      "UpdateConfig", "container.UpdateConfig",
      Concat<UpdateConfig>({Promote(&UpdateConfig::resources, ResourcesFields()),
                            {Field("RestartPolicy", &UpdateConfig::restart_policy,
                                   RestartPolicyCodec())}})));
  return *codec;
}

}  // namespace berth::spec::json
