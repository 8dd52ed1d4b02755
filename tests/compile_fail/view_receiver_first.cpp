// A plugin's view of a signal takes the sender first too.
#include <beacon/plugin.hpp>

struct p : beacon::plugin {
    std::string name() const override { return "p"; }
    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
        ctx.core().signal("user_created").connect([](const beacon::event&) {}, "admin");
        return {};
    }
};

int main() {}
