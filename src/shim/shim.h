#pragma once
// berth-shim: the per-container process that owns a container's stdio, writes its json-file log,
// records its exit code and keeps the container alive while berthd is down. Protocol: docs/shim.md.
//
// Threading: none. Everything runs in one poll() loop (SIGCHLD arrives through a signalfd), so no
// member needs a lock. Every fd is non-blocking except the log file and the ready fd.

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "log_file.h"

namespace berth::shim {

struct Options {
  std::string id;
  std::string bundle;
  std::string state_dir;
  std::string runtime;
  std::string runtime_root;
  std::string log_path;     // empty with --no-log (the none driver)
  bool no_log = false;
  int64_t log_max_size = -1;  // --log-max-size: rotate at this many bytes (-1: never)
  unsigned log_max_file = 1;  // --log-max-file: files kept, the live one included
  bool log_compress = false;  // --log-compress: gzip rotated files
  int ready_fd = -1;
  bool tty = false;
  bool stdin_open = false;
  bool stdin_once = false;
  unsigned rows = 0;  // 0: leave the pty size alone
  unsigned cols = 0;
};

// Parses the command line; on failure returns false and sets *error.
bool ParseOptions(int argc, char** argv, Options* options, std::string* error);

class Shim {
 public:
  explicit Shim(Options options);
  ~Shim();
  Shim(const Shim&) = delete;
  Shim& operator=(const Shim&) = delete;

  // Runs in the already daemonized process (chdir'ed to the state dir, subreaper, SIGCHLD
  // blocked): starts the container, reports on the ready fd, serves clients until the container
  // has exited. Returns the process exit status.
  int Run();

 private:
  struct Client;
  struct Exec;  // one `docker exec` process, see docs/shim.md
  enum class Phase { kRunning, kDraining, kExited };

  bool Setup(std::string* error);
  bool StartContainer(std::string* error);
  void RunRuntime(const std::vector<std::string>& args, int in, int out, int err, pid_t* pid);
  // `runc delete --force`.
  void DeleteContainer();
  // The same for a container whose init has been reaped, without runc; false: runc must do it.
  bool DeleteStoppedContainer();
  void ReportReady(const std::string& line);
  bool ExecsLive() const;

  void Loop();
  void ReapChildren();
  void AcceptClients();
  void HandleClientReadable(Client& c);
  void HandleCommand(Client& c, std::string_view line);
  void HandleFrames(Client& c);
  void FlushClient(Client& c);
  void QueueToClient(Client& c, std::string_view data);
  void SendFrame(Client& c, uint8_t type, std::string_view payload);
  void DropClient(Client& c);
  void ClientStoppedStdin(Client& c);

  // Reads what is available from one container stream; returns false at EOF/EIO.
  bool ReadOutput(int fd, uint8_t frame_type, const char* stream);
  void Distribute(std::string_view data, uint8_t frame_type, const char* stream);

  void QueueStdin(std::string_view data);
  void FlushStdin();
  void CloseStdin();
  bool Resize(unsigned rows, unsigned cols);

  void StartExec(Client& c, std::string_view arg);
  void ExecRuntimeExited(Exec& e, int status);
  void ReceiveExecConsole(Exec& e, bool nonblocking);
  void HandleExecReady(Exec& e, int fd, short revents);
  bool ReadExecOutput(Exec& e, int fd, uint8_t frame_type);
  void QueueExecStdin(Exec& e, std::string_view data);
  void FlushExecStdin(Exec& e);
  void CloseExecStdin(Exec& e);
  void FailExec(Exec& e, std::string message);  // ERR to its client, then CleanupExec
  void FinishExec(Exec& e);                      // exit frame to its client, then CleanupExec
  void CleanupExec(Exec& e);

  void Finalize();
  std::string ExitLine() const;

  Options opts_;
  std::string state_abs_;  // absolute state dir, for the paths handed to runc
  int signal_fd_ = -1;
  int listen_fd_ = -1;
  LogFile log_;
  int console_listen_fd_ = -1;
  int master_fd_ = -1;  // pty master (tty mode): output and stdin
  int stdout_fd_ = -1;  // pipe read ends (non-tty mode)
  int stderr_fd_ = -1;
  int stdin_fd_ = -1;   // pipe write end (non-tty mode with --stdin)

  pid_t runc_pid_ = -1;
  int runc_status_ = 0;
  bool runc_done_ = false;
  pid_t init_pid_ = -1;
  bool init_exited_ = false;
  int exit_code_ = 0;
  int64_t finished_nanos_ = 0;

  bool released_ = false;
  Phase phase_ = Phase::kRunning;
  int64_t drain_deadline_ms_ = 0;  // monotonic; while kDraining
  int64_t exit_deadline_ms_ = 0;   // monotonic; while kExited

  std::string stdin_buf_;
  bool stdin_close_pending_ = false;
  uint64_t stdin_once_owner_ = 0;  // id of the first client that attached with stdin, 0: none

  std::string frame_scratch_;

  uint64_t next_client_id_ = 1;
  std::vector<std::unique_ptr<Client>> clients_;

  std::vector<std::unique_ptr<Exec>> execs_;
  // Children reaped while an exec's runc was still running and not yet known as any exec's pid:
  // a quick exec can exit (and be reaped, once runc is gone) before its pid file is read.
  std::vector<std::pair<pid_t, int>> unclaimed_exits_;
};

}  // namespace berth::shim
