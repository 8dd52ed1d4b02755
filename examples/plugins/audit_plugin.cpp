// A plugin in a shared library of its own, built with hidden visibility: BEACON_PLUGIN exports
// the handshake the host checks first and the entry point it calls then. The plugin reaches the
// host's registry only through its context.
#include <beacon/plugin_library.hpp>

#include <iostream>
#include <string>

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

BEACON_PLUGIN(audit_plugin)

/// The address of this library's own default_registry(), to show the hidden-visibility caveat.
BEACON_PLUGIN_EXPORT const void* beacon_plugin_default_registry() { return &beacon::default_registry(); }
