// Plugin libraries that plugin_library_refusal_test expects the loader to refuse, one per
// BROKEN_* macro: an entry point that throws (BROKEN_THROWS), one that returns no plugin
// (BROKEN_RETURNS_NULL), an entry point that is a null pointer variable, not a function
// (BROKEN_NULL_ENTRY), a 1-byte handshake symbol (BROKEN_TINY_HANDSHAKE) and no entry point
// (BROKEN_NO_ENTRY). Each counts, in the environment, whether its static initializers ran.
#include <beacon/plugin_library.hpp>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace {

// A static initializer the test can observe: it appends this library's name to
// BEACON_TEST_BROKEN_INITIALIZED.
struct initialized_marker {
    initialized_marker() {
        const char* before = std::getenv("BEACON_TEST_BROKEN_INITIALIZED");
        const std::string now = std::string(before ? before : "") + BROKEN_NAME " ";
        setenv("BEACON_TEST_BROKEN_INITIALIZED", now.c_str(), 1);
    }
};
const initialized_marker marker;

class quiet_plugin : public beacon::plugin {
public:
    std::string name() const override { return BROKEN_NAME; }
    beacon::subscription_table signal_subscriptions(beacon::plugin_context&) override { return {}; }
};

}  // namespace

#if defined(BROKEN_TINY_HANDSHAKE)
BEACON_PLUGIN_EXPORT const unsigned char beacon_plugin_handshake = 1;
#else
BEACON_PLUGIN_EXPORT const beacon::plugin_handshake beacon_plugin_handshake = beacon::plugin_handshake::this_build();
#endif

#if defined(BROKEN_THROWS)
BEACON_PLUGIN_EXPORT beacon::plugin* beacon_plugin_create() { throw std::runtime_error("the plugin's database is down"); }
#elif defined(BROKEN_RETURNS_NULL)
BEACON_PLUGIN_EXPORT beacon::plugin* beacon_plugin_create() { return nullptr; }
#elif defined(BROKEN_NULL_ENTRY)
BEACON_PLUGIN_EXPORT beacon::plugin* (*const beacon_plugin_create)() = nullptr;
#elif defined(BROKEN_NO_ENTRY)
#else
BEACON_PLUGIN_EXPORT beacon::plugin* beacon_plugin_create() { return new quiet_plugin(); }
#endif
