// A receiver bound to a sender is connect("sender", receiver): sender first, everywhere.
#include <beacon/beacon.hpp>

int main() {
    beacon::registry reg;
    reg.core().signal("user_created").connect([](const beacon::event&) {}, "admin");
}
