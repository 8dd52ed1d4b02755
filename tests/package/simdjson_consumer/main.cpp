// A program outside beacon's tree, linking beacon::simdjson (hence libsimdjson) as a package or a
// subproject: an event written in beacon's envelope reads back the same through simdjson.
#include <beacon/simdjson.hpp>

int main() {
    beacon::event e("alice", {{"id", "a1"}});
    e.stamp();
    const auto& format = beacon::simdjson::envelope();
    return format.decode(format.encode(e)) == e ? 0 : 1;
}
