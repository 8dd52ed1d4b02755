// A resource store that notifies a webhook receiver (Standard Webhooks) and mails each change
#include <beacon/beacon.hpp>
#include <beacon/hub.hpp>
#include <beacon/outbound.hpp>

#include <chrono>
#include <iostream>
#include <map>
#include <string>

// Usage: outbound_notifier <webhook URL> <whsec_ secret> <smtp URL>
// (examples/outbound_notifier.sh starts a receiver and an SMTP server on loopback and runs it.)

namespace {

// The store: objects by uri; each change is sent on core.resource_changed.
class store {
public:
    explicit store(beacon::registry& reg) : changed_(reg.core().signal("resource_changed")) {}

    void put(const std::string& uri, const std::string& title, const std::string& user) {
        beacon::event e(user);
        e.action = objects_.count(uri) ? beacon::action::update : beacon::action::create;
        e.uri = uri;
        e.user_id = user;
        e.set("title", title).set("notify", "editors+" + uri.substr(uri.rfind('/') + 1) + "@example.org");
        objects_[uri] = title;
        changed_.send(e);
    }

private:
    beacon::signal& changed_;
    std::map<std::string, std::string> objects_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: outbound_notifier <webhook URL> <whsec_ secret> <smtp URL>\n";
        return 2;
    }
    beacon::registry reg;
    beacon::outbound::courier courier;  // 4 workers; failures go to the process-wide sink

    beacon::outbound::webhook hook(argv[1], beacon::outbound::signing_secret::parse(argv[2]));
    hook.allow_private = true;  // the receiver is on this machine: allowed on purpose
    beacon::outbound::mail mail(argv[3], "store@example.org");
    mail.to = {"audit@example.org"};
    mail.to_data = "notify";  // and whoever the event names
    mail.subject = beacon::outbound::message_template::parse("[store] {{action}} {{uri}}");
    mail.body = beacon::outbound::message_template::parse("{{user_id}} saved \"{{data.title}}\" at {{uri}}.\n");
    mail.require_tls = false;  // the local debugging server speaks plain SMTP: never in production
    mail.allow_private = true;

    const auto to_webhook = courier.add(hook);
    const auto to_mail = courier.add(mail);
    auto& changed = reg.core().signal("resource_changed");
    changed.connect(to_webhook->receiver());  // shares each event; a worker writes and POSTs it
    beacon::hub changes("changes");           // or through a hub, as a consumer
    changes.register_consumer(to_mail);
    changed.connect([&](const beacon::event& e) { changes.send(e); });

    store s(reg);
    s.put("/articles/1", "Hello", "alice");
    s.put("/articles/2", "Café ☕", "bob");
    s.put("/articles/1", "Hello, again", "alice");

    courier.wait_idle(std::chrono::seconds(30));
    for (const auto& [name, c] : {std::pair{"webhook", to_webhook}, std::pair{"mail", to_mail}}) {
        const auto st = c->stats();
        std::cout << name << ": " << st.delivered << " delivered in " << st.attempts << " attempt(s), " << st.given_up
                  << " given up\n";
    }
}
