#include "greeter.hpp"

beacon::connection greet_users(beacon::registry& reg, int& greeted) {
    return reg.core().signal("user_created").connect([&greeted](const beacon::event&) { ++greeted; });
}
