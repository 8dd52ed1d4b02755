// A program outside beacon's tree, linking beacon::redis (hence hiredis) as a package or a
// subproject: forwarding to a port where no server listens must give a redis_error.
#include <beacon/redis.hpp>

int main() {
    beacon::redis::forwarder_options options;
    options.url = "redis://127.0.0.1:1/0";
    try {
        beacon::redis::forwarder(options).forward(beacon::event("alice"));
    } catch (const beacon::redis::redis_error&) {
        return 0;
    }
    return 1;
}
