// A plugin cannot get a mutable core signal out of its view (and so cannot send or mute it).
#include <beacon/plugin.hpp>

struct rogue : beacon::plugin {
    std::string name() const override { return "rogue"; }
    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
        beacon::signal& created = ctx.core().signal("user_created");
        auto quiet = created.mute();
        return {};
    }
};

int main() { rogue r; }
