#pragma once
// The leak census of a lab: everything of it that is still in the kernel or on disk. `lab down`
// runs it last and fails, listing each leak, if anything is left.
//
// What counts as the lab's: its namespace files (/run/netns/<name>-<node>) and the namespaces
// themselves (by nsfs inode: a process still inside one keeps it alive after its file is gone);
// its bridge and host-side veths; mounts under its directories or on its namespace files;
// processes whose command line names its directories (berthd, berth-shim), whose root or working
// directory is under them (containers), or that live in one of its namespaces; the directories.

#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "lab/plan.h"

namespace berth::lab {

struct LabProcess {
  pid_t pid = 0;
  std::string comm;
  std::string why;  // "in the network namespace of m1", "root under /var/lib/berth-lab/x"
};

// What can only be learnt while the lab is still there: the nsfs inodes of its namespaces (so that
// processes still inside one are found after its file is gone) and the cgroups of its containers
// (from runc's state files under each exec root).
struct Traces {
  std::set<ino_t> netns_inodes;
  std::vector<std::string> cgroups;
};
Traces TakeTraces(const Lab& lab);
// Processes of the lab (never the caller itself). Zombies are left out: they hold nothing.
std::vector<LabProcess> FindLabProcesses(const Lab& lab, const Traces& traces);
// Mount points under the lab's directories or on its namespace files, deepest first.
std::vector<std::string> FindLabMounts(const Lab& lab);
// One line per leak; empty when the lab left nothing.
std::vector<std::string> Census(const Lab& lab, const Traces& traces);

// /proc/self/mountinfo's mount points, octal escapes (\040) decoded.
std::vector<std::string> MountPoints(const std::string& mountinfo);

}  // namespace berth::lab
