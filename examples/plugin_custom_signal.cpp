// Story: plugins define their own signals in ext, prefixed with their name, and other plugins
// subscribe to them. "custom" defines custom.something_happened; "datastore" defines CKAN's
// datastore signals (datastore.upsert, datastore.delete); "reporter" subscribes to both plugins'
// signals by full name, whether or not they are loaded.
#include <beacon/plugin.hpp>

#include <iostream>
#include <memory>
#include <string>

namespace {

/// Defines custom.something_happened and sends it whenever something happens.
class custom_plugin : public beacon::plugin {
public:
    std::string name() const override { return "custom"; }

    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
        something_happened_ = &ctx.define("something_happened");
        return {};
    }

    /// The plugin's own work; it notifies whoever listens.
    void harvest(const std::string& source) const { something_happened_->send("custom", {{"source", source}}); }

private:
    beacon::signal* something_happened_ = nullptr;
};

/// CKAN's datastore extension: sends datastore.upsert and datastore.delete after its writes.
class datastore_plugin : public beacon::plugin {
public:
    std::string name() const override { return "datastore"; }

    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
        upsert_ = &ctx.define("upsert");
        delete_ = &ctx.define("delete");
        return {};
    }

    /// Stores `records` in the table of resource `resource_id` (sender: the resource id).
    void upsert(const std::string& resource_id, const nlohmann::json& records) const {
        upsert_->send(resource_id, {{"records", records}});
    }
    /// Deletes the records `filters` selects (keys: result, data_dict).
    void remove(const std::string& resource_id, const nlohmann::json& filters) const {
        delete_->send(resource_id, {{"result", {{"deleted", 1}}}, {"data_dict", {{"filters", filters}}}});
    }

private:
    beacon::signal* upsert_ = nullptr;
    beacon::signal* delete_ = nullptr;
};

/// Subscribes to the other plugins' signals by their full names.
class reporter_plugin : public beacon::plugin {
public:
    std::string name() const override { return "reporter"; }

    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
        return {
            {ctx.ext("custom.something_happened"), {[this](const beacon::event& e) {
                 ++heard;
                 std::cout << "  reporter: custom harvested " << e.data["source"].get<std::string>() << "\n";
             }}},
            {ctx.ext(beacon::plugin_signal_name("datastore", "upsert")), {[this](const beacon::event& e) {
                 ++heard;
                 std::cout << "  reporter: " << e.data["records"].size() << " records upserted into " << e.sender
                           << "\n";
             }}},
        };
    }

    int heard = 0;
};

}  // namespace

int main() {
    beacon::registry reg;
    beacon::plugin_host host(reg);

    // The reporter loads first: the signals it names exist in ext, simply never sent yet.
    auto reporter = std::make_shared<reporter_plugin>();
    host.load(reporter);
    std::cout << "reporter loaded without custom; ext holds:";
    for (const auto& name : reg.ext().names()) std::cout << " " << name;
    std::cout << "\n";

    auto custom = std::make_shared<custom_plugin>();
    auto datastore = std::make_shared<datastore_plugin>();
    host.load(custom);
    host.load(datastore);
    std::cout << "custom and datastore loaded; ext holds:";
    for (const auto& name : reg.ext().names()) std::cout << " " << name;
    std::cout << "\n";

    custom->harvest("https://example.org/feed");
    datastore->upsert("res-42", nlohmann::json::array({{{"id", 1}}, {{"id", 2}}}));
    datastore->remove("res-42", {{"id", 1}});  // nobody subscribes to datastore.delete: nobody is called

    host.unload("reporter");
    custom->harvest("https://example.org/other");
    std::cout << "reporter heard " << reporter->heard << " events, after its unload, receivers on "
              << beacon::plugin_signal_name("custom", "something_happened") << ": "
              << reg.ext().signal("custom.something_happened").receiver_count() << "\n";
}
