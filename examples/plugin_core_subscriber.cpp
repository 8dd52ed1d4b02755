// Story: a plugin subscribes to core signals (CKAN's ExampleISignalPlugin). The host declares the
// core catalogue, seals core, loads the plugin, sends what happens, and unloads it.
#include <beacon/core_signals.hpp>
#include <beacon/plugin.hpp>

#include <iostream>
#include <memory>
#include <string>

namespace {

/// Counts sign-ups, watches dataset creation by one action only, and logs failed logins.
class activity_plugin : public beacon::plugin {
public:
    std::string name() const override { return "activity"; }

    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
        auto core = ctx.core();
        return {
            // A receiver for every sender of user_created.
            {core.signal("user_created"), {[this](const beacon::event& e) { on_user_created(e); }}},
            // A receiver bound to one sender: action_succeeded from "package_create" only.
            {core.signal("action_succeeded"),
             {{"package_create", [this](const beacon::event& e) { on_dataset_created(e); }}}},
            {core.signal("failed_login"), {[](const beacon::event& e) {
                 std::cout << "  activity: failed login for " << e.sender << "\n";
             }}},
        };
    }

    int users = 0;
    int datasets = 0;

private:
    void on_user_created(const beacon::event& e) {
        ++users;
        std::cout << "  activity: new user " << e.sender << " (" << e.data["user"]["email"].get<std::string>()
                  << ")\n";
    }
    void on_dataset_created(const beacon::event& e) {
        ++datasets;
        std::cout << "  activity: dataset " << e.data["result"]["name"].get<std::string>() << " created\n";
    }
};

}  // namespace

int main() {
    beacon::registry reg;
    beacon::declare_core_signals(reg);
    reg.core().seal();
    auto& user_created = reg.core().signal("user_created");
    auto& action_succeeded = reg.core().signal("action_succeeded");
    auto& failed_login = reg.core().signal("failed_login");

    beacon::plugin_host host(reg);
    auto activity = std::make_shared<activity_plugin>();
    std::cout << "without the plugin, receivers on user_created: " << user_created.receiver_count() << "\n";
    host.load(activity);
    std::cout << "plugin loaded: " << host.names().at(0) << "\n";

    // What the host sends, with the senders and keys of the catalogue.
    user_created.send("alice", {{"user", {{"name", "alice"}, {"email", "alice@example.org"}}}});
    action_succeeded.send("package_create", {{"context", {{"user", "alice"}}},
                                             {"data_dict", {{"name", "rivers"}}},
                                             {"result", {{"name", "rivers"}, {"id", "d1"}}}});
    const auto others = action_succeeded.send("package_delete", {{"data_dict", {{"id", "d1"}}}});
    std::cout << "  receivers called for package_delete: " << others << "\n";
    failed_login.send("mallory");

    host.unload("activity");
    const auto after = user_created.send("bob", {{"user", {{"name", "bob"}, {"email", "bob@example.org"}}}});
    std::cout << "activity saw " << activity->users << " user and " << activity->datasets
              << " dataset, after unload: " << user_created.receiver_count() + action_succeeded.receiver_count() +
                                                   failed_login.receiver_count()
              << " receivers, " << after << " called\n";
}
