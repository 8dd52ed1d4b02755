// Flask-Notifications' usage guide, in C++: a hub that aggregates the events of type "test" sent
// from now on (`with_event_type("test") & !before(now)`), with a JSON-lines log consumer and a
// consumer with before/after hooks; events are sent to every hub, each hub filters them.
#include <beacon/hub.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>

namespace {

/// Flask-Notifications' Event(event_id, event_type, title, body, sender=...).
beacon::event make_event(const std::string& type, const std::string& title, const std::string& body) {
    return beacon::event("system", {{"event_type", type}, {"title", title}, {"body", body}});
}

/// Flask-Notifications' WithEventType filter, built from a JSON-pointer field match.
beacon::filter with_event_type(const std::string& type) { return beacon::with_field("/event_type", type); }

/// A consumer that "stores" each event and confirms it in its after hook.
struct store_consumer : beacon::consumer {
    int stored = 0;
    void before_consume(const beacon::event& e) override { std::cout << "  before: " << e.data["title"] << "\n"; }
    void consume(const beacon::event&) override { ++stored; }
    void after_consume(const beacon::event&) override { std::cout << "  after: stored " << stored << "\n"; }
};

}  // namespace

int main() {
    beacon::hubs notifications;
    auto test_hub = notifications.create_hub("TestHub");

    const auto now = std::chrono::system_clock::now();
    test_hub->filter_by(with_event_type("test") & !beacon::before(now));

    test_hub->register_consumer(std::make_shared<beacon::log_consumer>(std::cout));
    auto store = std::make_shared<store_consumer>();
    test_hub->register_consumer(store);

    std::size_t delivered = 0;
    delivered += notifications.send(make_event("test", "This event will pass the filter", "This is the body of the test"));
    delivered += notifications.send(make_event("system", "This event will not pass the filter", "This is the body of the test"));
    auto old = make_event("test", "This event is from before now", "This is the body of the test");
    old.timestamp = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() - 60'000;
    delivered += notifications.send(old);

    std::cout << "delivered: " << delivered << " of 3, stored: " << store->stored << "\n";
}
