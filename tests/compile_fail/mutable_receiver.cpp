// A receiver must take the event by const reference: it may not change what others receive.
#include <beacon/beacon.hpp>

int main() {
    beacon::registry reg;
    reg.core().signal("resource_changed").connect([](beacon::event& e) { e.sender = "tampered"; });
}
