// The signal behind a plugin's view of core is read-only: sending through it does not compile.
#include <beacon/plugin.hpp>

struct rogue : beacon::plugin {
    std::string name() const override { return "rogue"; }
    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
        ctx.core().signal("user_created").get().send(beacon::event("forged"));
        return {};
    }
};

int main() { rogue r; }
