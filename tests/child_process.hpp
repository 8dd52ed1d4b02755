#pragma once
// beacon_test::run_in_child: runs code in a forked child process and collects what it wrote to
// stderr and how it ended, for the misuses that end a process (std::terminate) and must say why.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <stdexcept>
#include <string>

namespace beacon_test {

// How a child process ended, and what it wrote to stderr.
struct child_end {
    int status = 0;
    std::string said;
    bool aborted() const { return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT; }
};

// Runs `body` in a child process whose stderr is collected, with SIGABRT's default action (not
// Catch's handler: the child dies without a report of its own) and an alarm after 30 s against
// hanging; the child exits with 0 if `body` returns.
template <class Body>
child_end run_in_child(Body&& body) {
    int err[2];
    if (::pipe(err) != 0) throw std::runtime_error("pipe failed");
    const pid_t child = ::fork();
    if (child < 0) throw std::runtime_error("fork failed");
    if (child == 0) {
        ::alarm(30);
        ::signal(SIGABRT, SIG_DFL);
        ::dup2(err[1], 2);
        ::close(err[0]);
        body();
        ::_exit(0);
    }
    ::close(err[1]);
    child_end end;
    char buffer[4096];
    for (ssize_t n; (n = ::read(err[0], buffer, sizeof buffer)) > 0;) end.said.append(buffer, static_cast<std::size_t>(n));
    ::close(err[0]);
    ::waitpid(child, &end.status, 0);
    return end;
}

}  // namespace beacon_test
