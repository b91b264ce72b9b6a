// Berth's default seccomp profile. It allows what Docker's default profile allows (facts from
// Docker's documentation of that profile and moby's profiles/seccomp): an allow-list, every other
// call failing with EPERM; calls that escape or reconfigure the host only with the capability that
// governs them; clone without namespace flags unless CAP_SYS_ADMIN; clone3 answered ENOSYS without
// CAP_SYS_ADMIN, so that libc falls back to clone, whose flags the filter can see.

#include <errno.h>
#include <sched.h>

#include "absl/strings/str_split.h"
#include "engine/seccomp.h"

namespace berth::engine {
namespace {

// Allowed for everyone, whatever the architecture (a name the kernel or libseccomp does not
// know is skipped by runc). io_uring is not here: Docker stopped allowing it (its operations
// bypass the filter).
constexpr const char* kAllowed =
    // files and directories
    "access cachestat chdir chmod chown chown32 close close_range copy_file_range creat dup dup2 "
    "dup3 faccessat faccessat2 fadvise64 fadvise64_64 fallocate fchdir fchmod fchmodat fchmodat2 "
    "fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fremovexattr "
    "fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futimesat "
    "getcwd getdents getdents64 getxattr getxattrat lchown lchown32 lgetxattr link linkat "
    "listxattr llistxattr _llseek listxattrat lremovexattr lseek lsetxattr lstat lstat64 mkdir "
    "mkdirat mknod mknodat name_to_handle_at newfstatat open openat openat2 pread64 preadv "
    "preadv2 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv removexattr "
    "removexattrat rename renameat renameat2 rmdir sendfile sendfile64 setxattr setxattrat splice "
    "stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs tee truncate "
    "truncate64 umask unlink unlinkat utime utimensat utimensat_time64 utimes vmsplice write "
    "writev "
    // events, polling, asynchronous I/O
    "epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait "
    "epoll_wait_old eventfd eventfd2 fanotify_mark inotify_add_watch inotify_init inotify_init1 "
    "inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents io_pgetevents_time64 "
    "io_setup io_submit ioctl _newselect pipe pipe2 poll ppoll ppoll_time64 pselect6 "
    "pselect6_time64 select signalfd signalfd4 timerfd_create timerfd_gettime timerfd_gettime64 "
    "timerfd_settime timerfd_settime64 "
    // memory
    "brk madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mlock mlock2 "
    "mlockall mmap mmap2 mprotect mremap mseal msync munlock munlockall munmap pkey_alloc "
    "pkey_free pkey_mprotect remap_file_pages "
    // processes, threads, signals, scheduling
    "alarm capget capset execve execveat exit exit_group fork futex futex_requeue futex_time64 "
    "futex_wait futex_waitv futex_wake getcpu getegid getegid32 geteuid geteuid32 getgid getgid32 "
    "getgroups getgroups32 getitimer getpgid getpgrp getpid getppid getpriority getresgid "
    "getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid get_thread_area "
    "gettid getuid getuid32 ioprio_get ioprio_set kill landlock_add_rule landlock_create_ruleset "
    "landlock_restrict_self pause pidfd_open pidfd_send_signal prctl prlimit64 process_mrelease "
    "restart_syscall rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn "
    "rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity "
    "sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min "
    "sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity "
    "sched_setattr sched_setparam sched_setscheduler sched_yield seccomp setfsgid setfsgid32 "
    "setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority "
    "setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 "
    "setrlimit set_robust_list setsid set_thread_area set_tid_address setuid setuid32 sigaltstack "
    "sigprocmask sigreturn tgkill tkill ugetrlimit uretprobe vfork wait4 waitid waitpid "
    // time
    "adjtimex clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime "
    "clock_gettime64 clock_nanosleep clock_nanosleep_time64 gettimeofday nanosleep time "
    "timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime "
    "timer_settime64 times "
    // sockets and System V / POSIX IPC (socket itself is below: not AF_VSOCK)
    "accept accept4 bind connect getpeername getsockname getsockopt listen recv recvfrom recvmmsg "
    "recvmmsg_time64 recvmsg send sendmmsg sendmsg sendto setsockopt shutdown socketcall "
    "socketpair ipc mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 "
    "mq_timedsend mq_timedsend_time64 mq_unlink msgctl msgget msgrcv msgsnd semctl semget semop "
    "semtimedop semtimedop_time64 shmat shmctl shmdt shmget "
    // the system
    "getrandom listmount riscv_hwprobe statmount sysinfo uname";

std::vector<std::string> Names(const char* list) {
  return absl::StrSplit(list, ' ', absl::SkipEmpty());
}

SeccompRule Allow(const char* names) {
  return SeccompRule{Names(names), "SCMP_ACT_ALLOW", {}, {}, {}, {}};
}

SeccompRule AllowWithCap(const char* names, const char* cap) {
  SeccompRule r = Allow(names);
  r.includes.caps = {cap};
  return r;
}

SeccompRule AllowOnArches(const char* names, std::vector<std::string> arches) {
  SeccompRule r = Allow(names);
  r.includes.arches = std::move(arches);
  return r;
}

SeccompRule AllowIfArg(const char* name, uint32_t index, uint64_t value, const char* op,
                       uint64_t value_two = 0) {
  SeccompRule r = Allow(name);
  r.args.push_back(SeccompArg{index, value, value_two, op});
  return r;
}

SeccompProfile Build() {
  SeccompProfile p;
  p.default_action = "SCMP_ACT_ERRNO";
  p.default_errno_ret = EPERM;
  // The native architecture and the ones its kernel also runs (32-bit x86 and x32 on amd64).
  p.arch_map = {
      {"SCMP_ARCH_X86_64", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
      {"SCMP_ARCH_AARCH64", {"SCMP_ARCH_ARM"}},
      {"SCMP_ARCH_MIPS64", {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"}},
      {"SCMP_ARCH_MIPS64N32", {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"}},
      {"SCMP_ARCH_MIPSEL64", {"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"}},
      {"SCMP_ARCH_MIPSEL64N32", {"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"}},
      {"SCMP_ARCH_S390X", {"SCMP_ARCH_S390"}},
      {"SCMP_ARCH_RISCV64", {}},
  };
  auto& s = p.syscalls;
  s.push_back(Allow(kAllowed));
  // Tracing another process: since 4.8 the kernel checks seccomp again after a ptrace change,
  // so it no longer bypasses the filter.
  SeccompRule trace = Allow("process_vm_readv process_vm_writev ptrace");
  trace.includes.min_kernel = "4.8";
  s.push_back(trace);
  // Every socket family but AF_ALG (the kernel's crypto API, 38) and AF_VSOCK (the hypervisor's
  // channel to the host, 40).
  s.push_back(AllowIfArg("socket", 0, 38, "SCMP_CMP_LT"));
  s.push_back(AllowIfArg("socket", 0, 39, "SCMP_CMP_EQ"));
  s.push_back(AllowIfArg("socket", 0, 40, "SCMP_CMP_GT"));
  // personality: only the default domain, with or without UNAME26 and ADDR_NO_RANDOMIZE
  // (linux32), and the query.
  for (uint64_t v : {0x0ULL, 0x0008ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL})
    s.push_back(AllowIfArg("personality", 0, v, "SCMP_CMP_EQ"));
  // Architecture-specific calls.
  s.push_back(AllowOnArches("sync_file_range2 swapcontext", {"ppc64le"}));
  s.push_back(
      AllowOnArches("arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint "
                    "cacheflush set_tls",
                    {"arm", "arm64"}));
  s.push_back(AllowOnArches("arch_prctl", {"amd64", "x32"}));
  s.push_back(AllowOnArches("modify_ldt", {"amd64", "x32", "x86"}));
  s.push_back(AllowOnArches("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr",
                            {"s390", "s390x"}));
  s.push_back(AllowOnArches("riscv_flush_icache", {"riscv64"}));
  // What each capability stands for.
  s.push_back(AllowWithCap("open_by_handle_at", "CAP_DAC_READ_SEARCH"));
  s.push_back(AllowWithCap(
      "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie "
      "lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount "
      "mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname "
      "sethostname setns syslog umount umount2 unshare",
      "CAP_SYS_ADMIN"));
  // Without CAP_SYS_ADMIN, clone may not make namespaces. s390 passes the flags second.
  constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                       CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
  SeccompRule clone = AllowIfArg("clone", 0, kNamespaceFlags, "SCMP_CMP_MASKED_EQ", 0);
  clone.excludes.caps = {"CAP_SYS_ADMIN"};
  clone.excludes.arches = {"s390", "s390x"};
  s.push_back(clone);
  SeccompRule clone_s390 = AllowIfArg("clone", 1, kNamespaceFlags, "SCMP_CMP_MASKED_EQ", 0);
  clone_s390.includes.arches = {"s390", "s390x"};
  clone_s390.excludes.caps = {"CAP_SYS_ADMIN"};
  s.push_back(clone_s390);
  // clone3 passes its flags in memory the filter cannot read: ENOSYS makes libc use clone.
  SeccompRule clone3{Names("clone3"), "SCMP_ACT_ERRNO", ENOSYS, {}, {}, {}};
  clone3.excludes.caps = {"CAP_SYS_ADMIN"};
  s.push_back(clone3);
  s.push_back(AllowWithCap("reboot", "CAP_SYS_BOOT"));
  s.push_back(AllowWithCap("chroot", "CAP_SYS_CHROOT"));
  s.push_back(AllowWithCap("delete_module init_module finit_module", "CAP_SYS_MODULE"));
  s.push_back(AllowWithCap("acct", "CAP_SYS_PACCT"));
  s.push_back(
      AllowWithCap("kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
                   "CAP_SYS_PTRACE"));
  s.push_back(AllowWithCap("iopl ioperm", "CAP_SYS_RAWIO"));
  s.push_back(AllowWithCap("settimeofday stime clock_settime clock_settime64", "CAP_SYS_TIME"));
  s.push_back(AllowWithCap("vhangup", "CAP_SYS_TTY_CONFIG"));
  s.push_back(
      AllowWithCap("get_mempolicy mbind set_mempolicy set_mempolicy_home_node", "CAP_SYS_NICE"));
  s.push_back(AllowWithCap("syslog", "CAP_SYSLOG"));
  s.push_back(AllowWithCap("bpf", "CAP_BPF"));
  s.push_back(AllowWithCap("perf_event_open", "CAP_PERFMON"));
  return p;
}

}  // namespace

const SeccompProfile& DefaultSeccompProfile() {
  static const SeccompProfile kProfile = Build();
  return kProfile;
}

}  // namespace berth::engine
