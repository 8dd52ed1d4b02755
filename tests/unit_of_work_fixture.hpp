#pragma once
// What unit_of_work_test and unit_of_work_after_commit_test share: resource events, and a registry
// whose four core signals record what they receive, with a notifier reporting to a list.
#include <beacon/unit_of_work.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using beacon::action;
using beacon::unit_of_work;

namespace {

beacon::event resource_event(action a, std::string resource_name, std::string uri, nlohmann::json record) {
    beacon::event e("alice");
    e.action = a;
    e.resource_name = std::move(resource_name);
    e.uri = std::move(uri);
    e.user_id = "account:alice";
    if (a == action::delete_) {
        e.impacted_records.push_back({std::move(record), std::nullopt});
    } else {
        e.impacted_records.push_back({std::nullopt, std::move(record)});
    }
    return e;
}

beacon::event record_created(std::string collection_uri, std::string id) {
    return resource_event(action::create, "record", collection_uri + "/records/" + id, {{"id", id}});
}

// What a failure handler got: `ev` is valid only during the handler's call, so its uri is kept.
struct reported_failure {
    explicit reported_failure(const beacon::failure& f)
        : part(f.part), where(f.where), receiver(f.receiver), uri(f.ev ? f.ev->uri : ""), had_event(f.ev != nullptr),
          message(f.message()) {}
    beacon::part part;
    std::string where, receiver, uri;
    bool had_event;
    std::string message;
};

// What each of the four core signals received, as "<signal> <action> <resource> <uri> x<records>".
struct fixture {
    beacon::registry reg;
    std::vector<std::string> log;
    std::vector<beacon::event> before, after;
    std::vector<reported_failure> errors;
    beacon::resource_notifier notifier{reg, [this](const beacon::failure& f) { errors.push_back(reported_failure(f)); }};

    fixture() {
        for (const char* name : {"resource_changed", "resource_read"}) {
            reg.core().signal(name).connect([this, name](const beacon::event& e) {
                before.push_back(e);
                log.push_back(line(name, e));
            });
        }
        for (const char* name : {"after_resource_changed", "after_resource_read"}) {
            reg.core().signal(name).connect([this, name](const beacon::event& e) {
                after.push_back(e);
                log.push_back(line(name, e));
            });
        }
    }

    static std::string line(const char* signal, const beacon::event& e) {
        return std::string(signal) + " " + std::string(beacon::to_string(*e.action)) + " " + e.resource_name + " " +
               e.uri + " x" + std::to_string(e.impacted_records.size());
    }
};

}  // namespace
