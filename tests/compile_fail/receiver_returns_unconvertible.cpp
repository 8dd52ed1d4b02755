// What a receiver returns is collected as JSON by send_collect: a value JSON cannot hold is refused.
#include <beacon/beacon.hpp>

struct opaque {};

int main() {
    beacon::registry reg;
    reg.core().signal("user_created").connect([](const beacon::event&) { return opaque{}; });
}
