// Units of work, ported from Kinto's event tests: merging by (resource name, parent, action),
// before/after-commit sends, a failure before commit, rollback, cascades, nesting, threads and
// misuse (after commit: unit_of_work_after_commit_test.cpp).
#include <beacon/unit_of_work.hpp>

#include <catch2/catch.hpp>

#include "test_events.hpp"
#include "unit_of_work_fixture.hpp"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

TEST_CASE("parent_uri: the uri of the object holding a REST-shaped resource", "[unit_of_work][parent]") {
    CHECK(beacon::parent_uri("/buckets/b/collections/c/records/r") == "/buckets/b/collections/c");
    CHECK(beacon::parent_uri("/buckets/b/collections/c/records") == "/buckets/b/collections/c");
    CHECK(beacon::parent_uri("/buckets/b/collections/c") == "/buckets/b");
    CHECK(beacon::parent_uri("/buckets/b/collections/c/") == "/buckets/b");
    CHECK(beacon::parent_uri("//buckets//b/collections/c") == "//buckets//b");
    CHECK(beacon::parent_uri("/buckets/b").empty());
    CHECK(beacon::parent_uri("/buckets").empty());
    CHECK(beacon::parent_uri("buckets/b/groups/g") == "buckets/b");
    CHECK(beacon::parent_uri("/").empty());
    CHECK(beacon::parent_uri("").empty());
}

TEST_CASE_METHOD(fixture, "several writes in one unit of work give one merged event per phase",
                 "[unit_of_work][merge]") {
    {
        unit_of_work uow(notifier);
        for (const char* id : {"r1", "r2", "r3"}) notifier.notify(record_created("/buckets/b/collections/c", id));
        CHECK(before.empty());  // collected, not sent
        uow.commit();
        CHECK(uow.status() == unit_of_work::state::committed);
    }
    REQUIRE(before.size() == 1);
    REQUIRE(after.size() == 1);
    // Two events (the after-commit one merges the whole unit of work): the same change, each its own id.
    CHECK(test_events::without_identity(before[0]) == test_events::without_identity(after[0]));
    CHECK(before[0].id != after[0].id);
    CHECK(before[0].type == "core.resource_changed");
    CHECK(after[0].type == "core.after_resource_changed");
    const beacon::event& merged = after[0];
    CHECK(merged.uri == "/buckets/b/collections/c/records/r1");  // the first event's payload
    CHECK(merged.user_id == "account:alice");
    CHECK(merged.timestamp > 0);
    REQUIRE(merged.impacted_records.size() == 3);
    CHECK(merged.impacted_records[0].new_value == nlohmann::json{{"id", "r1"}});
    CHECK(merged.impacted_records[1].new_value == nlohmann::json{{"id", "r2"}});
    CHECK(merged.impacted_records[2].new_value == nlohmann::json{{"id", "r3"}});
    CHECK(log == std::vector<std::string>{
                     "resource_changed create record /buckets/b/collections/c/records/r1 x3",
                     "after_resource_changed create record /buckets/b/collections/c/records/r1 x3"});
    CHECK(errors.empty());
}

TEST_CASE_METHOD(fixture, "the first event's payload is kept, later ones only add their records",
                 "[unit_of_work][merge]") {
    unit_of_work uow(notifier);
    auto first = record_created("/buckets/b/collections/c", "r1");
    first.timestamp = 1000;
    first.set("note", "first");
    auto second = record_created("/buckets/b/collections/c", "r2");
    second.timestamp = 2000;
    second.user_id = "account:bob";
    second.set("note", "second");
    uow.notify(first);
    uow.notify(second);
    uow.commit();
    REQUIRE(after.size() == 1);
    beacon::event expected = first;
    expected.impacted_records.push_back(second.impacted_records[0]);
    CHECK(test_events::without_identity(after[0]) == expected);
    CHECK_FALSE(after[0].id.is_nil());
}

TEST_CASE_METHOD(fixture, "different parents, actions or resource names give separate events, in order",
                 "[unit_of_work][merge]") {
    unit_of_work uow(notifier);
    notifier.notify(record_created("/buckets/b/collections/c1", "r1"));
    notifier.notify(record_created("/buckets/b/collections/c2", "r2"));
    notifier.notify(record_created("/buckets/b/collections/c1", "r3"));
    notifier.notify(resource_event(action::update, "record", "/buckets/b/collections/c1/records/r1", {{"id", "r1"}}));
    notifier.notify(resource_event(action::create, "collection", "/buckets/b/collections/c3", {{"id", "c3"}}));
    notifier.notify(resource_event(action::delete_, "record", "/buckets/b/collections/c2/records", {{"id", "r2"}}));
    uow.commit();
    CHECK(log == std::vector<std::string>{
                     "resource_changed create record /buckets/b/collections/c1/records/r1 x2",
                     "resource_changed create record /buckets/b/collections/c2/records/r2 x1",
                     "resource_changed update record /buckets/b/collections/c1/records/r1 x1",
                     "resource_changed create collection /buckets/b/collections/c3 x1",
                     "resource_changed delete record /buckets/b/collections/c2/records x1",
                     "after_resource_changed create record /buckets/b/collections/c1/records/r1 x2",
                     "after_resource_changed create record /buckets/b/collections/c2/records/r2 x1",
                     "after_resource_changed update record /buckets/b/collections/c1/records/r1 x1",
                     "after_resource_changed create collection /buckets/b/collections/c3 x1",
                     "after_resource_changed delete record /buckets/b/collections/c2/records x1"});
    REQUIRE(after.size() == 5);
    CHECK(after[4].impacted_records[0].old_value == nlohmann::json{{"id", "r2"}});
    CHECK_FALSE(after[4].impacted_records[0].new_value);
}

TEST_CASE_METHOD(fixture, "an explicit parent overrides the one derived from the uri", "[unit_of_work][merge]") {
    unit_of_work uow(notifier);
    uow.notify(resource_event(action::update, "dataset", "/dataset/a", {{"id", "a"}}), "org:1");
    uow.notify(resource_event(action::update, "dataset", "/dataset/b", {{"id", "b"}}), "org:1");
    uow.notify(resource_event(action::update, "dataset", "/dataset/c", {{"id", "c"}}), "org:2");
    uow.commit();
    CHECK(log == std::vector<std::string>{"resource_changed update dataset /dataset/a x2",
                                          "resource_changed update dataset /dataset/c x1",
                                          "after_resource_changed update dataset /dataset/a x2",
                                          "after_resource_changed update dataset /dataset/c x1"});
}

TEST_CASE_METHOD(fixture, "reads go to resource_read and after_resource_read", "[unit_of_work][read]") {
    unit_of_work uow(notifier);
    notifier.notify(resource_event(action::read, "record", "/buckets/b/collections/c/records/r1", {{"id", "r1"}}));
    notifier.notify(resource_event(action::read, "record", "/buckets/b/collections/c/records/r2", {{"id", "r2"}}));
    notifier.notify(record_created("/buckets/b/collections/c", "r3"));
    uow.commit();
    CHECK(log == std::vector<std::string>{
                     "resource_read read record /buckets/b/collections/c/records/r1 x2",
                     "resource_changed create record /buckets/b/collections/c/records/r3 x1",
                     "after_resource_read read record /buckets/b/collections/c/records/r1 x2",
                     "after_resource_changed create record /buckets/b/collections/c/records/r3 x1"});
}

TEST_CASE_METHOD(fixture, "storage commits between the before and the after phases", "[unit_of_work][commit]") {
    unit_of_work uow(notifier);
    notifier.notify(record_created("/buckets/b/collections/c", "r1"));
    uow.commit([&] {
        CHECK(before.size() == 1);
        CHECK(after.empty());
        CHECK(uow.status() == unit_of_work::state::prepared);
        log.push_back("storage commit");
    });
    CHECK(log == std::vector<std::string>{"resource_changed create record /buckets/b/collections/c/records/r1 x1",
                                          "storage commit",
                                          "after_resource_changed create record /buckets/b/collections/c/records/r1 x1"});
}

TEST_CASE_METHOD(fixture, "the phases can be driven separately by a host's transaction hooks",
                 "[unit_of_work][commit]") {
    unit_of_work uow(notifier);
    notifier.notify(record_created("/buckets/b/collections/c", "r1"));
    uow.before_commit();
    CHECK(uow.status() == unit_of_work::state::prepared);
    CHECK(before.size() == 1);
    CHECK(after.empty());
    uow.after_commit();
    CHECK(after.size() == 1);
    CHECK(uow.status() == unit_of_work::state::committed);
}

TEST_CASE_METHOD(fixture, "rollback: nothing after commit; what was sent before commit stays sent",
                 "[unit_of_work][rollback]") {
    int observed = 0;
    auto observer = notifier.on_after_commit([&](const std::vector<beacon::event>&) { ++observed; });

    SECTION("rolled back before the before-commit phase: nothing at all is sent") {
        unit_of_work uow(notifier);
        notifier.notify(record_created("/buckets/b/collections/c", "r1"));
        uow.rollback();
        CHECK(uow.status() == unit_of_work::state::rolled_back);
        CHECK(before.empty());
    }
    SECTION("rolled back after the before-commit phase (the storage commit failed)") {
        unit_of_work uow(notifier);
        notifier.notify(record_created("/buckets/b/collections/c", "r1"));
        uow.before_commit();
        uow.rollback();
        CHECK(before.size() == 1);
    }
    SECTION("destroyed without commit") {
        {
            unit_of_work uow(notifier);
            notifier.notify(record_created("/buckets/b/collections/c", "r1"));
            uow.before_commit();
        }
        CHECK(before.size() == 1);
    }
    SECTION("the storage commit throws") {
        unit_of_work uow(notifier);
        notifier.notify(record_created("/buckets/b/collections/c", "r1"));
        CHECK_THROWS_WITH(uow.commit([] { throw std::runtime_error("disk full"); }), "disk full");
        CHECK(uow.status() == unit_of_work::state::failed);
        CHECK(before.size() == 1);
        uow.rollback();
        CHECK(uow.status() == unit_of_work::state::rolled_back);
    }
    CHECK(after.empty());
    CHECK(observed == 0);
    CHECK(notifier.current() == nullptr);
}

TEST_CASE_METHOD(fixture, "a failing before-commit receiver fails the commit", "[unit_of_work][failure]") {
    reg.core().signal("resource_changed").connect([](const beacon::event& e) {
        if (e.resource_name == "collection") throw std::runtime_error("collections are read-only");
    });
    bool storage_committed = false;
    unit_of_work uow(notifier);
    notifier.notify(record_created("/buckets/b/collections/c", "r1"));
    notifier.notify(resource_event(action::update, "collection", "/buckets/b/collections/c", {{"id", "c"}}));
    notifier.notify(record_created("/buckets/b/collections/d", "r2"));
    CHECK_THROWS_WITH(uow.commit([&] { storage_committed = true; }), "collections are read-only");
    CHECK_FALSE(storage_committed);
    CHECK(uow.status() == unit_of_work::state::failed);
    // The record event before the veto was sent; the one after it was not; nothing after commit.
    CHECK(log == std::vector<std::string>{"resource_changed create record /buckets/b/collections/c/records/r1 x1",
                                          "resource_changed update collection /buckets/b/collections/c x1"});
    CHECK_THROWS_AS(uow.after_commit(), beacon::unit_of_work_error);
    CHECK_THROWS_AS(uow.notify(record_created("/buckets/b/collections/c", "r3")), beacon::unit_of_work_error);
    CHECK(notifier.current() == nullptr);
    uow.rollback();
    CHECK(after.empty());
}

TEST_CASE_METHOD(fixture, "cascades: sent in following rounds, not merged before commit, merged after",
                 "[unit_of_work][cascade]") {
    // Like kinto-signer: creating records touches the collection, which updates its signature records.
    reg.core().signal("resource_changed").connect([this](const beacon::event& e) {
        if (e.resource_name == "record" && e.sender == "alice") {
            auto cascade = record_created("/buckets/b/collections/c", "auto-" + e.impacted_records[0].new_value->at("id").get<std::string>());
            cascade.sender = "signer";
            notifier.notify(cascade);
            notifier.notify(resource_event(action::update, "collection", "/buckets/b/collections/c", {{"id", "c"}}));
        }
        if (e.resource_name == "collection") {
            auto cascade = record_created("/buckets/b/collections/c", "from-collection");
            cascade.sender = "signer";
            notifier.notify(cascade);
        }
    });
    unit_of_work uow(notifier);
    notifier.notify(record_created("/buckets/b/collections/c", "r1"));
    notifier.notify(record_created("/buckets/b/collections/c", "r2"));
    uow.commit();
    CHECK(log == std::vector<std::string>{
                     // round 1: the host's writes, merged
                     "resource_changed create record /buckets/b/collections/c/records/r1 x2",
                     // round 2: what the receivers notified, merged among themselves only
                     "resource_changed create record /buckets/b/collections/c/records/auto-r1 x1",
                     "resource_changed update collection /buckets/b/collections/c x1",
                     // round 3: notified while round 2 was sent
                     "resource_changed create record /buckets/b/collections/c/records/from-collection x1",
                     // after commit, everything with the same key is merged, in first-sent order
                     "after_resource_changed create record /buckets/b/collections/c/records/r1 x4",
                     "after_resource_changed update collection /buckets/b/collections/c x1"});
    REQUIRE(before.size() == 4);
    CHECK(before[1].sender == "signer");  // the cascade kept its own payload before commit
    REQUIRE(after.size() == 2);
    CHECK(after[0].sender == "alice");
    std::vector<std::string> ids;
    for (const auto& r : after[0].impacted_records) ids.push_back(r.new_value->at("id").get<std::string>());
    CHECK(ids == std::vector<std::string>{"r1", "r2", "auto-r1", "from-collection"});
}

TEST_CASE_METHOD(fixture, "a cascade that never settles is an error, not a hang", "[unit_of_work][cascade]") {
    int sent = 0;
    reg.core().signal("resource_changed").connect([&](const beacon::event& e) {
        ++sent;
        notifier.notify(record_created("/buckets/b/collections/c", e.impacted_records[0].new_value->at("id").get<std::string>() + "+"));
    });
    unit_of_work uow(notifier);
    notifier.notify(record_created("/buckets/b/collections/c", "r"));
    CHECK_THROWS_WITH(uow.commit(), Contains("[beacon.unit_of_work_error] unit_of_work::before_commit()") &&
                                        Contains("after 100 rounds of cascade"));
    CHECK(sent == static_cast<int>(unit_of_work::max_cascade_rounds));
    CHECK(uow.status() == unit_of_work::state::failed);
    CHECK(after.empty());
}

TEST_CASE_METHOD(fixture, "with no unit of work open, notify sends at once, before then after",
                 "[unit_of_work][autocommit]") {
    CHECK(notifier.current() == nullptr);
    notifier.notify(record_created("/buckets/b/collections/c", "r1"));
    CHECK(log == std::vector<std::string>{"resource_changed create record /buckets/b/collections/c/records/r1 x1",
                                          "after_resource_changed create record /buckets/b/collections/c/records/r1 x1"});
    reg.core().signal("resource_changed").connect([](const beacon::event&) { throw std::runtime_error("vetoed"); });
    CHECK_THROWS_WITH(notifier.notify(record_created("/buckets/b/collections/c", "r2")), "vetoed");
    CHECK(after.size() == 1);
    CHECK(notifier.current() == nullptr);
}

TEST_CASE_METHOD(fixture, "nested units of work are independent; notify goes to the innermost",
                 "[unit_of_work][nesting]") {
    unit_of_work outer(notifier);
    notifier.notify(record_created("/buckets/b/collections/c", "outer-1"));
    {
        unit_of_work inner(notifier);
        CHECK(notifier.current() == &inner);
        notifier.notify(record_created("/buckets/b/collections/c", "inner-1"));
        inner.commit();
        CHECK(notifier.current() == &outer);
    }
    {
        unit_of_work inner(notifier);
        notifier.notify(record_created("/buckets/b/collections/c", "inner-2"));
        inner.rollback();
    }
    notifier.notify(record_created("/buckets/b/collections/c", "outer-2"));
    outer.commit();
    CHECK(notifier.current() == nullptr);
    CHECK(log == std::vector<std::string>{
                     "resource_changed create record /buckets/b/collections/c/records/inner-1 x1",
                     "after_resource_changed create record /buckets/b/collections/c/records/inner-1 x1",
                     "resource_changed create record /buckets/b/collections/c/records/outer-1 x2",
                     "after_resource_changed create record /buckets/b/collections/c/records/outer-1 x2"});
}

TEST_CASE_METHOD(fixture, "a unit of work belongs to the thread that opened it", "[unit_of_work][threads]") {
    unit_of_work uow(notifier);
    notifier.notify(record_created("/buckets/b/collections/c", "main"));
    // Catch2's assertions are not thread-safe: the other thread records, the main thread checks.
    bool other_sees_a_unit_of_work = true;
    std::string from_other;
    int refused = 0;
    std::thread other([&] {
        // Another thread does not see this unit of work: its notify is sent at once.
        other_sees_a_unit_of_work = notifier.current() != nullptr;
        notifier.notify(record_created("/buckets/b/collections/c", "other"));
        try {
            uow.notify(record_created("/buckets/b/collections/c", "stolen"));
        } catch (const beacon::unit_of_work_error& e) {
            from_other = e.what();
        }
        for (auto call : {+[](unit_of_work& u) { u.commit(); }, +[](unit_of_work& u) { u.rollback(); }}) {
            try {
                call(uow);
            } catch (const beacon::unit_of_work_error&) {
                ++refused;
            }
        }
    });
    other.join();
    CHECK_FALSE(other_sees_a_unit_of_work);
    CHECK(refused == 2);
    CHECK_THAT(from_other, Contains("[beacon.unit_of_work_error] unit_of_work::notify(): the unit of work belongs to thread"));
    CHECK(log == std::vector<std::string>{"resource_changed create record /buckets/b/collections/c/records/other x1",
                                          "after_resource_changed create record /buckets/b/collections/c/records/other x1"});
    CHECK(uow.status() == unit_of_work::state::open);
    uow.commit();
    CHECK(log.back() == "after_resource_changed create record /buckets/b/collections/c/records/main x1");
}

TEST_CASE_METHOD(fixture, "a unit of work destroyed on another thread rolls back and closes",
                 "[unit_of_work][threads]") {
    auto uow = std::make_unique<unit_of_work>(notifier);
    notifier.notify(record_created("/buckets/b/collections/c", "r1"));
    CHECK(notifier.current() == uow.get());
    std::thread([&] { uow.reset(); }).join();
    CHECK(notifier.current() == nullptr);
    notifier.notify(record_created("/buckets/b/collections/c", "r2"));  // sent at once now
    CHECK(log == std::vector<std::string>{"resource_changed create record /buckets/b/collections/c/records/r2 x1",
                                          "after_resource_changed create record /buckets/b/collections/c/records/r2 x1"});
}

TEST_CASE("units of work on many threads share one notifier safely", "[unit_of_work][threads]") {
    beacon::registry reg;
    std::atomic<int> records_before{0}, records_after{0}, batches{0}, batch_sizes_other_than_one{0};
    reg.core().signal("resource_changed").connect([&](const beacon::event& e) {
        records_before += static_cast<int>(e.impacted_records.size());
    });
    reg.core().signal("after_resource_changed").connect([&](const beacon::event& e) {
        records_after += static_cast<int>(e.impacted_records.size());
    });
    beacon::resource_notifier notifier(reg);
    notifier.on_after_commit([&](const std::vector<beacon::event>& batch) {
        if (batch.size() != 1) ++batch_sizes_other_than_one;  // one parent per thread: one merged event
        ++batches;
    });
    constexpr int threads = 4, commits = 50, writes = 5;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int c = 0; c < commits; ++c) {
                unit_of_work uow(notifier);
                for (int w = 0; w < writes; ++w) {
                    notifier.notify(record_created("/buckets/b/collections/t" + std::to_string(t), std::to_string(w)));
                }
                if (c % 5 == 4) uow.rollback();
                else uow.commit();
            }
        });
    }
    for (auto& w : workers) w.join();
    constexpr int committed = threads * (commits - commits / 5);
    CHECK(batches == committed);
    CHECK(batch_sizes_other_than_one == 0);
    CHECK(records_after == committed * writes);
    CHECK(records_before == committed * writes);
}

TEST_CASE_METHOD(fixture, "misuse: calls out of order and events without an action", "[unit_of_work][errors]") {
    unit_of_work uow(notifier);
    beacon::event no_action("alice");
    no_action.uri = "/buckets/b";
    CHECK_THROWS_WITH(notifier.notify(no_action),
                      "[beacon.unit_of_work_error] unit_of_work::notify(): the event from \"alice\" at uri "
                      "\"/buckets/b\" has no action (a resource event is a create, update, delete or read)");
    CHECK_THROWS_WITH(uow.after_commit(), "[beacon.unit_of_work_error] unit_of_work::after_commit(): the unit of "
                                          "work is open (it must be prepared)");
    notifier.notify(record_created("/buckets/b/collections/c", "r1"));
    uow.before_commit();
    CHECK_THROWS_WITH(uow.before_commit(), Contains("unit_of_work::before_commit(): the unit of work is prepared"));
    CHECK_THROWS_WITH(notifier.notify(record_created("/buckets/b/collections/c", "late")),
                      Contains("unit_of_work::notify(): the unit of work is prepared"));
    uow.after_commit();
    CHECK_THROWS_WITH(uow.commit(), Contains("before_commit(): the unit of work is committed"));
    CHECK_THROWS_WITH(uow.rollback(), Contains("rollback(): the unit of work is committed"));
    // Nothing delivered was lost or repeated by the failed calls.
    CHECK(log == std::vector<std::string>{"resource_changed create record /buckets/b/collections/c/records/r1 x1",
                                          "after_resource_changed create record /buckets/b/collections/c/records/r1 x1"});
}

TEST_CASE("a receiver cannot commit or roll back the unit of work that is sending", "[unit_of_work][errors]") {
    beacon::registry reg;
    beacon::resource_notifier notifier(reg);
    std::string message;
    reg.core().signal("resource_changed").connect([&](const beacon::event&) {
        try {
            notifier.current()->rollback();
        } catch (const beacon::unit_of_work_error& e) {
            message = e.what();
        }
    });
    unit_of_work uow(notifier);
    notifier.notify(record_created("/buckets/b/collections/c", "r1"));
    uow.commit();
    CHECK(message == "[beacon.unit_of_work_error] unit_of_work::rollback(): the unit of work is sending; it can no "
                     "longer be rolled back");
    CHECK(uow.status() == unit_of_work::state::committed);
}

TEST_CASE("the notifier needs the four core signals", "[unit_of_work][errors]") {
    beacon::registry reg;
    SECTION("declared before core is sealed") {
        for (const char* name : {"resource_changed", "resource_read", "after_resource_changed", "after_resource_read"}) {
            reg.core().signal(name);
        }
        reg.core().seal();
        beacon::resource_notifier notifier(reg);
        int calls = 0;
        reg.core().signal("after_resource_changed").connect([&](const beacon::event&) { ++calls; });
        notifier.notify(record_created("/buckets/b/collections/c", "r1"));
        CHECK(calls == 1);
    }
    SECTION("missing from a sealed core") {
        reg.core().signal("resource_changed");
        reg.core().seal();
        CHECK_THROWS_AS(beacon::resource_notifier(reg), beacon::unknown_signal_error);
    }
}
