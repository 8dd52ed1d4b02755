// Memory held by a signal after N one-off senders (default 1,000,000), for each way their one
// receiver goes away (disconnect, scoped_connection, expired tracked owner), with and without a
// later send from that sender. Prints the heap in use (glibc mallinfo2) after the loop, relative
// to before, and the senders the signal still keeps. CTest smoke-runs it with a small N. (Under a
// sanitizer, whose allocator glibc does not see, the heap figures are meaningless.)
#include <beacon/signal.hpp>

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

enum class way { disconnect, scope, owner_expires };

std::size_t heap_in_use() { return mallinfo2().uordblks; }

void measure(way w, bool later_send, long n) {
    const std::size_t before = heap_in_use();
    std::size_t senders = 0;
    {
        beacon::signal sig("core", "resource_changed");
        const auto receiver = [](const beacon::event&) {};
        for (long i = 0; i < n; ++i) {
            const std::string sender = "one-off-sender-" + std::to_string(i);
            if (w == way::disconnect) {
                sig.connect(sender, receiver).disconnect();
            } else if (w == way::scope) {
                beacon::scoped_connection c = sig.connect(sender, receiver);
            } else {
                sig.connect(sender, receiver, std::make_shared<long>(i));
            }
            if (later_send) {
                beacon::event e(sender);
                e.timestamp = 1;
                sig.send(e);
            }
        }
        senders = sig.sender_count();
        const std::size_t after = heap_in_use();
        const char* names[] = {"disconnect", "scoped_connection", "expired owner"};
        std::printf("%-18s %-13s senders kept %8zu   heap held %10.1f KiB (%.1f bytes per sender)\n",
                    names[static_cast<int>(w)], later_send ? "later send" : "no later send", senders,
                    (static_cast<double>(after) - static_cast<double>(before)) / 1024.0,
                    (static_cast<double>(after) - static_cast<double>(before)) / static_cast<double>(n));
    }
}

}  // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 1000000;
    std::printf("after %ld one-off senders, each with one receiver that went away:\n", n);
    for (const way w : {way::disconnect, way::scope, way::owner_expires}) {
        for (const bool later_send : {false, true}) measure(w, later_send, n);
    }
}
