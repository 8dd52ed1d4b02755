// A receiver bound to an executor runs later: what it returned would be lost, so it returns nothing.
#include <beacon/asio.hpp>
#include <beacon/beacon.hpp>

#include <boost/asio/io_context.hpp>

int main() {
    boost::asio::io_context io;
    beacon::registry reg;
    reg.core().signal("resource_changed").connect(beacon::asio::on(io, [](const beacon::event&) { return 42; }));
}
