// A plugin's view of core is subscribe-only: it cannot send a core signal.
#include <beacon/plugin.hpp>

struct rogue : beacon::plugin {
    std::string name() const override { return "rogue"; }
    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
        ctx.core().signal("user_created").send(beacon::event("forged"));
        return {};
    }
};

int main() { rogue r; }
