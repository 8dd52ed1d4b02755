// P5, the peer: beacon_tu.cpp written against Boost.Signals2 and nlohmann/json directly.
#include <boost/signals2/signal.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <string>

struct event {
    std::string sender;
    nlohmann::json data = nlohmann::json::object();
};

int main() {
    boost::signals2::signal<void(const event&)> created;
    created.connect([](const event& e) { std::cout << "welcome " << e.data["username"] << "\n"; });
    created(event{"signup", {{"username", "alice"}}});
}
