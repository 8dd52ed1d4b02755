// libFuzzer target: listener configuration loading (nested and Kinto's flat form, including the
// "redis" listener type's options, the "webhook" and "mail" types' when beacon::outbound is built,
// and the "async" setting). Contract: load_listeners either connects every alias or throws a
// beacon::error and leaves nothing connected; nothing else. Nothing is sent: no request is made.
#include <beacon/listener.hpp>
#include <beacon/redis.hpp>
#if BEACON_FUZZ_OUTBOUND
#include <beacon/outbound.hpp>
#endif

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto settings = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
    if (settings.is_discarded()) return 0;  // not JSON: the event fuzzer covers JSON syntax

    beacon::registry reg;
    beacon::listener_types types;
    types.add("counter", [](const beacon::listener_context&) { return [](const beacon::event&) {}; });
    beacon::redis::add_listener_types(types);  // builds listeners without connecting until a send
#if BEACON_FUZZ_OUTBOUND
    static beacon::outbound::courier courier([] {
        beacon::outbound::courier_options o;
        o.workers = 1;  // idle: nothing is sent
        return o;
    }());
    beacon::outbound::add_listener_types(types, courier);
#endif

    auto& changed = reg.core().signal("resource_changed");
    auto& read = reg.core().signal("resource_read");
    auto& after_changed = reg.core().signal("after_resource_changed");
    auto& after_read = reg.core().signal("after_resource_read");
    try {
        auto loaded = beacon::load_listeners(reg, settings, types);
        loaded.unload_all();
    } catch (const beacon::error&) {
        // Bad configuration: fine, as long as nothing stayed connected.
    }
    // Any other exception escapes and libFuzzer reports it as a crash.
    if (changed.receiver_count() != 0 || read.receiver_count() != 0 || after_changed.receiver_count() != 0 ||
        after_read.receiver_count() != 0) {
        std::abort();
    }
    return 0;
}
