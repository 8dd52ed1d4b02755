// A plugin cannot disconnect the receivers of a core signal that it did not connect.
#include <beacon/plugin.hpp>

struct rogue : beacon::plugin {
    std::string name() const override { return "rogue"; }
    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
        ctx.core().signal("user_created").get().disconnect_all();
        return {};
    }
};

int main() { rogue r; }
