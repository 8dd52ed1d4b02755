// A program outside beacon's tree, built in C++20 against beacon as a package or a subproject
// (nothing beacon hands it, CMake target or pkg-config flags, may lower the standard to C++17).
#include <beacon/beacon.hpp>

static_assert(__cplusplus >= 202002L, "the consumer asked for C++20 and must get it");
static_assert(BEACON_VERSION == BEACON_VERSION_MAJOR * 10000 + BEACON_VERSION_MINOR * 100 + BEACON_VERSION_PATCH);

int main() {
    beacon::registry reg;
    int calls = 0;
    reg.core().signal("user_created").connect([&](const beacon::event& e) { calls += e.sender == "alice"; });
    reg.core().signal("user_created").send("alice", {{"username", "alice"}});
    return calls == 1 ? 0 : 1;
}
