// P5, beacon's side: a host file that declares a signal, connects a receiver and sends an event.
// raw_tu.cpp is the same file written against Boost.Signals2 and nlohmann/json directly.
#include <beacon/beacon.hpp>

#include <iostream>

int main() {
    beacon::registry reg;
    auto& created = reg.core().signal("user_created");
    created.connect([](const beacon::event& e) { std::cout << "welcome " << e.data["username"] << "\n"; });
    created.send("signup", {{"username", "alice"}});
}
