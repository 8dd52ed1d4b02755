// A receiver is bound to an Asio executor or execution context, not to anything else.
#include <beacon/asio.hpp>
#include <beacon/beacon.hpp>

int main() {
    beacon::registry reg;
    reg.core().signal("resource_changed").connect(beacon::asio::on(42, [](const beacon::event&) {}));
}
