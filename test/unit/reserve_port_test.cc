// ReservePort (network/controller_state.h) on the loopback of the test's own namespace: the ports
// come from the kernel (bind to port 0), so tests running side by side do not collide.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "common/fd.h"
#include "gtest/gtest.h"
#include "network/controller_state.h"

namespace berth::network {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A TCP socket bound to 127.0.0.1:port (0: any), optionally with SO_REUSEADDR; -1 when bind fails.
UniqueFd Bound(int port, bool reuse = false) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  if (reuse) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = Loopback(port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return UniqueFd();
  return fd;
}

int PortOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// Whether 127.0.0.1:port (hex in /proc/net/tcp) has a connection in TIME_WAIT (state 06).
bool TimeWait(int port) {
  char want[16];
  std::snprintf(want, sizeof want, "0100007F:%04X", port);
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string sl, local, remote, state;
    f >> sl >> local >> remote >> state;
    if (local == want && state == "06") return true;
  }
  return false;
}

TEST(ReservePortTest, APortWithOnlyTimeWaitConnectionsIsFreeAndStaysGuarded) {
  // A server on port P that closes its side of a connection first: P keeps a TIME_WAIT entry.
  UniqueFd listener = Bound(0, /*reuse=*/true);
  ASSERT_TRUE(listener.valid());
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  int port = PortOf(listener.get());
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a = Loopback(port);
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  UniqueFd served(::accept(listener.get(), nullptr, nullptr));
  ASSERT_TRUE(served.valid());
  listener.reset();
  served.reset();  // the server closes first: its end goes to TIME_WAIT once the client closes
  pollfd p{client.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);  // the FIN
  client.reset();
  for (int i = 0; i < 100 && !TimeWait(port); ++i) ::usleep(10000);
  ASSERT_TRUE(TimeWait(port));
  ASSERT_FALSE(Bound(port).valid()) << "a plain bind should fail over TIME_WAIT";

  auto held = ReservePort("tcp", "127.0.0.1", port);
  ASSERT_TRUE(held.ok()) << held.status();
  // Held: not even a server using SO_REUSEADDR gets the port now.
  EXPECT_FALSE(Bound(port, /*reuse=*/true).valid());
  EXPECT_FALSE(Bound(port).valid());
  auto again = ReservePort("tcp", "127.0.0.1", port);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST(ReservePortTest, APortSomeoneListensOnIsRefused) {
  UniqueFd listener = Bound(0, /*reuse=*/true);
  ASSERT_TRUE(listener.valid());
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  int port = PortOf(listener.get());
  auto held = ReservePort("tcp", "127.0.0.1", port);
  ASSERT_FALSE(held.ok());
  EXPECT_EQ(held.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(held.status().message(),
            "Bind for 127.0.0.1:" + std::to_string(port) + " failed: port is already allocated");
  // A socket bound without listening, and without SO_REUSEADDR, holds its port as well.
  UniqueFd bound = Bound(0);
  ASSERT_TRUE(bound.valid());
  EXPECT_EQ(ReservePort("tcp", "127.0.0.1", PortOf(bound.get())).status().code(),
            absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace berth::network
