// A program outside beacon's tree, built against beacon as a package or a subproject.
#include <beacon/beacon.hpp>

int main() {
    beacon::registry reg;
    int calls = 0;
    reg.core().signal("user_created").connect([&](const beacon::event& e) { calls += e.sender == "alice"; });
    reg.core().signal("user_created").send("alice", {{"username", "alice"}});
    return calls == 1 ? 0 : 1;
}
