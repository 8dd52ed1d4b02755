// A plugin in a shared library of its own, built with hidden visibility: only the extern "C"
// functions below are exported. The host dlopen()s the library, calls beacon_plugin_create() and
// loads the plugin on its own registry; the plugin reaches that registry only through its context.
#include <beacon/plugin.hpp>

#include <iostream>
#include <string>

#define BEACON_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

/// Audits sign-ups and failed logins of one suspicious user.
class audit_plugin : public beacon::plugin {
public:
    std::string name() const override { return "audit"; }

    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
        return {
            {ctx.core().signal("user_created"), {[](const beacon::event& e) {
                 std::cout << "  [audit.so] user_created from " << e.sender << "\n";
             }}},
            {ctx.core().signal("failed_login"), {{"mallory", [](const beacon::event& e) {
                                                      std::cout << "  [audit.so] failed login by " << e.sender << "\n";
                                                  }}}},
        };
    }
};

}  // namespace

/// The factory the host looks up with dlsym(); the host owns the returned plugin.
BEACON_PLUGIN_EXPORT beacon::plugin* beacon_plugin_create() { return new audit_plugin(); }

/// The address of this library's own default_registry(), to show the hidden-visibility caveat.
BEACON_PLUGIN_EXPORT const void* beacon_plugin_default_registry() { return &beacon::default_registry(); }
