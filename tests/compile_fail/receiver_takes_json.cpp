// A receiver taking nlohmann::json would get the whole wire envelope (an event converts to JSON),
// not its data: refused, with a message saying to take const beacon::event&.
#include <beacon/beacon.hpp>

int main() {
    beacon::registry reg;
    reg.core().signal("user_created").connect([](const nlohmann::json& data) { (void)data; });
}
