// In a subscription table, a receiver bound to a sender is {"sender", receiver}.
#include <beacon/plugin.hpp>

struct p : beacon::plugin {
    std::string name() const override { return "p"; }
    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
        return {{ctx.core().signal("user_created"), {{[](const beacon::event&) {}, "admin"}}}};
    }
};

int main() {}
