// The plugin library plugin_library_test loads, built three times: as a plugin
// (libcounter.so), as one claiming another beacon version (libcounter_foreign.so, with
// COUNTER_FOREIGN_VERSION) and without a handshake (libcounter_bare.so, with COUNTER_NO_HANDSHAKE).
// It counts its live plugin objects and the calls of its receivers, readable by the test.
#include <beacon/plugin_library.hpp>

#include <atomic>
#include <string>

namespace {

std::atomic<int> live_plugins{0};
std::atomic<int> calls{0};

/// Counts calls from every sender on user_created, and returns the sender doubled on
/// number for sender "10" only (CKAN's example_isignal).
class counter_plugin : public beacon::plugin {
public:
    counter_plugin() { live_plugins.fetch_add(1); }
    ~counter_plugin() override { live_plugins.fetch_sub(1); }

    std::string name() const override { return "counter"; }

    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
        // Connected through the context too, from the library's own code.
        ctx.core().signal("user_created").connect("admin", [](const beacon::event&) { calls.fetch_add(1); });
        return {
            {ctx.core().signal("user_created"), {[](const beacon::event&) { calls.fetch_add(1); }}},
            {ctx.ext("isignal_number"), {{"10", [](const beacon::event& e) { return std::stoi(e.sender) * 10; }}}},
        };
    }
};

}  // namespace

#if defined(COUNTER_FOREIGN_VERSION)
namespace {
constexpr beacon::plugin_handshake foreign() {
    auto h = beacon::plugin_handshake::this_build();
    h.beacon_version[0] += 1;  // as if built against the next major version
    return h;
}
}  // namespace
BEACON_PLUGIN_EXPORT const beacon::plugin_handshake beacon_plugin_handshake = foreign();
BEACON_PLUGIN_EXPORT beacon::plugin* beacon_plugin_create() { return new counter_plugin(); }
#elif defined(COUNTER_NO_HANDSHAKE)
BEACON_PLUGIN_EXPORT beacon::plugin* beacon_plugin_create() { return new counter_plugin(); }
#else
BEACON_PLUGIN(counter_plugin)
#endif

/// How many plugin objects of this library are alive.
BEACON_PLUGIN_EXPORT int counter_live_plugins() { return live_plugins.load(); }
/// How many times its counting receivers were called.
BEACON_PLUGIN_EXPORT int counter_calls() { return calls.load(); }
