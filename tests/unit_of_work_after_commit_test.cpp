// Units of work after commit: failing receivers and observers reported as failures, batch
// observers, and the notifications receivers make after commit.
#include <beacon/unit_of_work.hpp>

#include <catch2/catch.hpp>

#include "unit_of_work_fixture.hpp"

#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

TEST_CASE_METHOD(fixture, "a failing after-commit receiver does not fail the commit", "[unit_of_work][failure]") {
    auto& after_changed = reg.core().signal("after_resource_changed");
    std::vector<std::string> late;
    auto thrower = after_changed.connect([](const beacon::event& e) {
        if (e.uri.find("/c1/") != std::string::npos) throw std::runtime_error("mail server down");
    });
    after_changed.connect([&](const beacon::event& e) { late.push_back(e.uri); });
    std::vector<std::size_t> batches;
    notifier.on_after_commit([&](const std::vector<beacon::event>& batch) { batches.push_back(batch.size()); });

    unit_of_work uow(notifier);
    notifier.notify(record_created("/buckets/b/collections/c1", "r1"));
    notifier.notify(record_created("/buckets/b/collections/c2", "r2"));
    CHECK_NOTHROW(uow.commit());
    CHECK(uow.status() == unit_of_work::state::committed);
    // The receivers after the thrower and the events after the failing one were all delivered.
    CHECK(after.size() == 2);
    CHECK(late == std::vector<std::string>{"/buckets/b/collections/c1/records/r1", "/buckets/b/collections/c2/records/r2"});
    CHECK(batches == std::vector<std::size_t>{2});
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].part == beacon::part::unit_of_work);
    CHECK(errors[0].where == "core.after_resource_changed");
    CHECK(errors[0].had_event);
    CHECK(errors[0].uri == "/buckets/b/collections/c1/records/r1");
    CHECK_THAT(errors[0].receiver, StartsWith("#" + std::to_string(thrower.id()) + " ("));
    CHECK(errors[0].message == "mail server down");
}

TEST_CASE("with no handler, after-commit failures go to the process-wide sink, which writes them to stderr",
          "[unit_of_work][failure]") {
    beacon::registry reg;
    beacon::resource_notifier notifier(reg);
    auto thrower = reg.core().signal("after_resource_changed").connect([](const beacon::event&) {
        throw std::runtime_error("mail server down");
    });
    int delivered = 0;
    reg.core().signal("after_resource_changed").connect([&](const beacon::event&) { ++delivered; });
    std::ostringstream captured;
    auto* original = std::cerr.rdbuf(captured.rdbuf());
    notifier.notify(record_created("/buckets/b/collections/c", "r1"));
    std::cerr.rdbuf(original);
    CHECK(delivered == 1);
    CHECK_THAT(captured.str(), StartsWith("beacon.unit_of_work: core.after_resource_changed: #" +
                                          std::to_string(thrower.id()) + " (") &&
                                   Contains(" at /buckets/b/collections/c/records/r1: mail server down\n"));
}

TEST_CASE_METHOD(fixture, "after-commit batch observers get every merged event of a commit at once",
                 "[unit_of_work][observer]") {
    std::vector<std::vector<std::string>> batches;
    auto first = notifier.on_after_commit([&](const std::vector<beacon::event>& batch) {
        // Called after the after-commit signals of the whole batch.
        CHECK(after.size() == batch.size());
        std::vector<std::string> uris;
        for (const auto& e : batch) uris.push_back(e.uri + " x" + std::to_string(e.impacted_records.size()));
        batches.push_back(uris);
    });
    auto broken = notifier.on_after_commit([](const std::vector<beacon::event>&) { throw std::runtime_error("redis down"); });
    int third = 0;
    notifier.on_after_commit([&](const std::vector<beacon::event>&) { ++third; });

    {
        unit_of_work uow(notifier);
        notifier.notify(record_created("/buckets/b/collections/c", "r1"));
        notifier.notify(resource_event(action::read, "record", "/buckets/b/collections/c/records/r9", {{"id", "r9"}}));
        notifier.notify(record_created("/buckets/b/collections/c", "r2"));
        uow.commit();
    }
    CHECK(batches == std::vector<std::vector<std::string>>{
                         {"/buckets/b/collections/c/records/r1 x2", "/buckets/b/collections/c/records/r9 x1"}});
    CHECK(third == 1);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].part == beacon::part::unit_of_work);
    CHECK(errors[0].where == "after-commit observer");
    CHECK_FALSE(errors[0].had_event);
    CHECK_THAT(errors[0].receiver, StartsWith("#" + std::to_string(broken.id()) + " ("));
    CHECK(errors[0].message == "redis down");

    {
        unit_of_work empty(notifier);
        empty.commit();  // no events: no batch
    }
    CHECK(third == 1);

    first.disconnect();
    broken.disconnect();
    notifier.notify(record_created("/buckets/b/collections/c", "r3"));  // no unit of work: a batch of one
    CHECK(batches.size() == 1);
    CHECK(third == 2);
    CHECK(errors.size() == 1);
}

TEST_CASE_METHOD(fixture, "after commit, receivers' notifications go to the enclosing unit of work or are sent",
                 "[unit_of_work][nesting]") {
    reg.core().signal("after_resource_changed").connect([this](const beacon::event& e) {
        if (e.resource_name == "record") {
            notifier.notify(resource_event(action::create, "history", "/buckets/b/history/h1", {{"id", "h1"}}));
        }
    });
    SECTION("no enclosing unit of work: sent at once, inside the after-commit phase") {
        unit_of_work uow(notifier);
        notifier.notify(record_created("/buckets/b/collections/c", "r1"));
        uow.commit();
        CHECK(log == std::vector<std::string>{
                         "resource_changed create record /buckets/b/collections/c/records/r1 x1",
                         "after_resource_changed create record /buckets/b/collections/c/records/r1 x1",
                         "resource_changed create history /buckets/b/history/h1 x1",
                         "after_resource_changed create history /buckets/b/history/h1 x1"});
    }
    SECTION("an enclosing unit of work collects it") {
        unit_of_work outer(notifier);
        {
            unit_of_work inner(notifier);
            notifier.notify(record_created("/buckets/b/collections/c", "r1"));
            inner.commit();
        }
        CHECK(log.size() == 2);
        outer.commit();
        CHECK(log.back() == "after_resource_changed create history /buckets/b/history/h1 x1");
        CHECK(log.size() == 4);
    }
    CHECK(errors.empty());
}
