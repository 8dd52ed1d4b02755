// W3C trace context: traceparent parsed strictly, and carried with the cause from an event to the
// events its receivers send: in the sending thread, on async workers, from a host's trace_scope or
// tracer hook.
#include <beacon/trace.hpp>

#include <beacon/async.hpp>
#include <beacon/registry.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

using beacon::trace_context;
using Catch::Matchers::Contains;
using namespace std::chrono_literals;

namespace {

// W3C's own example.
constexpr const char* example = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

void require_bad(const std::string& traceparent, const std::string& words, const std::string& tracestate = {}) {
    INFO(traceparent << " / " << tracestate);
    try {
        (void)trace_context::parse(traceparent, tracestate);
        FAIL("no error");
    } catch (const beacon::decode_error& e) {
        CHECK_THAT(e.what(), Contains(words));
        CHECK_THAT(e.what(), Contains("[beacon.decode_error] /trace"));
    }
}

}  // namespace

TEST_CASE("a traceparent is read and written as W3C Trace Context says", "[trace]") {
    const auto t = trace_context::parse(example, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    CHECK(t.valid());
    CHECK(t.trace_id[0] == 0x4b);
    CHECK(t.parent_id[7] == 0xb7);
    CHECK(t.flags == 1);
    CHECK(t.state == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    CHECK(t.traceparent() == example);
    CHECK(trace_context().traceparent().empty());
    CHECK_FALSE(trace_context().valid());
    // A later version: its first four fields are read, what follows is ignored.
    const auto later = trace_context::parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds");
    CHECK(later.traceparent() == example);
}

TEST_CASE("a malformed traceparent or tracestate is a decode_error naming it", "[trace][limits]") {
    require_bad("", "too short");
    require_bad("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "too short");
    require_bad("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "not lower-case hexadecimal");
    require_bad("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff");
    require_bad("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "all-zero trace id");
    require_bad("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "all-zero parent id");
    require_bad("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", "trailing characters");
    require_bad("00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", "not followed by '-'");
    require_bad("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", "no '-' after the flags");
    require_bad(example, "exceeds 512 bytes", std::string(513, 'a'));
    require_bad(example, "outside printable ASCII", "k=v\n");
    // A long traceparent is quoted in part only.
    try {
        (void)trace_context::parse(std::string(100000, 'z'));
        FAIL("no error");
    } catch (const beacon::decode_error& e) {
        CHECK(std::string(e.what()).size() < 300);
    }
}

TEST_CASE("an event sent while a receiver handles another carries its trace and names it as cause",
          "[trace][signal][behaviour14]") {
    beacon::registry reg;
    reg.set_source("urn:shop:orders");
    auto& placed = reg.core().signal("order_placed");
    auto& mail = reg.core().signal("mail_queued");
    std::vector<beacon::event> mails;
    auto c1 = mail.connect([&](const beacon::event& e) { mails.push_back(e); });
    auto c2 = placed.connect([&](const beacon::event&) { mail.send(beacon::event("mailer")); });

    beacon::event order("shop");
    order.trace = trace_context::parse(example, "k=v");
    placed.stamp(order);
    CHECK(order.type == "core.order_placed");
    CHECK(order.source == "urn:shop:orders");
    placed.send(order);
    REQUIRE(mails.size() == 1);
    CHECK(mails[0].trace == order.trace);
    CHECK(mails[0].cause == order.id);
    CHECK(mails[0].id != order.id);
    CHECK(mails[0].type == "core.mail_queued");
    CHECK(mails[0].source == "urn:shop:orders");

    // Outside any receiver: no cause, no trace (no scope, no tracer).
    mail.send(beacon::event("mailer"));
    REQUIRE(mails.size() == 2);
    CHECK(mails[1].cause.is_nil());
    CHECK_FALSE(mails[1].trace.valid());
    CHECK(beacon::current_trace() == nullptr);
    CHECK(beacon::current_cause() == nullptr);

    // An event that has an id already (forwarded, redelivered) keeps what it carries.
    auto forwarded = mails[1];
    auto c3 = placed.connect([&](const beacon::event&) { mail.send(forwarded); });
    placed.send(beacon::event("shop"));
    REQUIRE(mails.size() == 4);
    CHECK(mails[3] == forwarded);
}

TEST_CASE("async workers run receivers in the context of the event they handle", "[trace][async]") {
    beacon::registry reg;
    auto& placed = reg.core().signal("order_placed");
    auto& mail = reg.core().signal("mail_queued");
    std::mutex m;
    std::vector<beacon::event> mails;
    auto c1 = mail.connect([&](const beacon::event& e) {
        std::lock_guard lock(m);
        mails.push_back(e);
    });
    beacon::async_receiver worker([&](const beacon::event&) { mail.send(beacon::event("mailer")); });
    auto c2 = placed.connect(worker.receiver());
    beacon::event order("shop");
    order.trace = trace_context::parse(example);
    placed.stamp(order);
    placed.send(order);
    REQUIRE(worker.drain(20s));
    std::lock_guard lock(m);
    REQUIRE(mails.size() == 1);
    CHECK(mails[0].trace.traceparent() == example);
    CHECK(mails[0].cause == order.id);
}

namespace {

bool tracer_span(trace_context& out) noexcept {
    out = trace_context::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    return true;
}

}  // namespace

TEST_CASE("a host sets the context with trace_scope or a tracer hook, and reads it in receivers", "[trace]") {
    beacon::registry reg;
    auto& sig = reg.core().signal("changed");
    std::vector<std::string> seen;  // what current_trace() says inside the receiver
    std::vector<beacon::event> got;
    auto c = sig.connect([&](const beacon::event& e) {
        const auto* now = beacon::current_trace();
        seen.push_back(now ? now->traceparent() : "none");
        got.push_back(e);
    });
    {
        beacon::trace_scope request(trace_context::parse(example));
        CHECK(beacon::current_trace()->traceparent() == example);
        CHECK(beacon::current_cause() == nullptr);
        sig.send(beacon::event("web"));
    }
    CHECK(beacon::current_trace() == nullptr);
    beacon::set_trace_provider(tracer_span);
    sig.send(beacon::event("web"));
    {
        beacon::trace_scope request(trace_context::parse(example));  // a scope wins over the hook
        sig.send(beacon::event("web"));
    }
    beacon::set_trace_provider(nullptr);
    sig.send(beacon::event("web"));
    REQUIRE(got.size() == 4);
    CHECK(got[0].trace.traceparent() == example);
    CHECK(got[1].trace.traceparent() == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    CHECK(got[2].trace.traceparent() == example);
    CHECK_FALSE(got[3].trace.valid());
    CHECK(seen == std::vector<std::string>{example, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                                           example, "none"});
    for (const auto& e : got) CHECK(e.cause.is_nil());
}
