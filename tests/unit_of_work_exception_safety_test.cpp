// Exception safety of units of work: a receiver throwing at any position before commit fails the
// commit and leaves the registry usable; after commit it is reported and the rest is delivered.
#include <beacon/registry.hpp>
#include <beacon/unit_of_work.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Three writes in three collections: three merged events per unit of work.
void notify_three(beacon::resource_notifier& notifier) {
    for (const char* collection : {"a", "b", "c"}) {
        beacon::event e("alice");
        e.action = beacon::action::update;
        e.resource_name = "record";
        e.uri = std::string("/buckets/b/collections/") + collection + "/records/r";
        notifier.notify(e);
    }
}

}  // namespace

TEST_CASE("a before-commit receiver throwing at any position fails the commit and leaves the registry usable",
          "[unit_of_work][exceptions]") {
    for (int position = 0; position < 3; ++position) {
        beacon::registry reg;
        beacon::resource_notifier notifier(reg);
        int sent_before = 0, sent_after = 0;
        reg.core().signal("resource_changed").connect([&](const beacon::event&) {
            if (sent_before++ == position) throw std::runtime_error("veto");
        });
        reg.core().signal("after_resource_changed").connect([&](const beacon::event&) { ++sent_after; });
        INFO("thrower at " << position);
        bool stored = false;
        {
            beacon::unit_of_work uow(notifier);
            notify_three(notifier);
            CHECK_THROWS_WITH(uow.commit([&] { stored = true; }), "veto");
            CHECK(uow.status() == beacon::unit_of_work::state::failed);
            uow.rollback();
        }
        CHECK_FALSE(stored);
        CHECK(sent_before == position + 1);
        CHECK(sent_after == 0);
        CHECK(notifier.current() == nullptr);

        beacon::unit_of_work again(notifier);
        notify_three(notifier);
        again.commit();
        CHECK(sent_after == 3);
        CHECK(reg.core().signal("resource_changed").receiver_count() == 1);
    }
}

TEST_CASE("an after-commit receiver throwing at any position is reported and the rest is delivered",
          "[unit_of_work][exceptions]") {
    for (int position = 0; position < 3; ++position) {
        std::vector<std::string> reported;
        std::vector<std::string> reported_uris;  // `ev` is valid only during the handler's call
        beacon::registry reg;
        beacon::resource_notifier notifier(reg, [&](const beacon::failure& f) {
            reported.push_back(f.message());
            reported_uris.push_back(f.ev ? f.ev->uri : "no event");
        });
        int calls = 0, others = 0;
        std::size_t observed = 0;
        reg.core().signal("after_resource_changed").connect([&](const beacon::event&) {
            if (calls++ == position) throw std::runtime_error("mail server down");
        });
        reg.core().signal("after_resource_changed").connect([&](const beacon::event&) { ++others; });
        notifier.on_after_commit([&](const std::vector<beacon::event>& batch) { observed += batch.size(); });
        INFO("thrower at " << position);
        {
            beacon::unit_of_work uow(notifier);
            notify_three(notifier);
            CHECK_NOTHROW(uow.commit());
            CHECK(uow.status() == beacon::unit_of_work::state::committed);
        }
        CHECK(calls == 3);
        CHECK(others == 3);
        CHECK(observed == 3);
        REQUIRE(reported.size() == 1);
        CHECK(reported[0] == "mail server down");
        CHECK(reported_uris[0] == "/buckets/b/collections/" + std::string(1, static_cast<char>('a' + position)) + "/records/r");
        CHECK(notifier.current() == nullptr);
    }
}
