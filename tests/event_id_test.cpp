// Event ids: UUIDv7 made from a properly seeded generator, unique across threads and fork(),
// sorted by time, parsed strictly.
#include <beacon/event_id.hpp>

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

using beacon::event_id;

namespace {

std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// The 64 bits an id sorts by first: 48 of milliseconds, the version, 12 of the millisecond's fraction.
std::uint64_t time_prefix(const event_id& id) {
    std::uint64_t out = 0;
    for (std::size_t i = 0; i < 8; ++i) out = (out << 8) | id.uuid().data[i];
    return out;
}

}  // namespace

TEST_CASE("a made id is a version 7 UUID of RFC 9562's variant, holding the time it was made", "[event_id]") {
    const auto before = now_ms();
    const auto id = event_id::make();
    const auto after = now_ms();
    CHECK_FALSE(id.is_nil());
    CHECK(id.version() == 7);
    CHECK((id.uuid().data[8] & 0xc0) == 0x80);
    CHECK(id.unix_ms() >= before);
    CHECK(id.unix_ms() <= after);
    const auto text = id.to_string();
    REQUIRE(text.size() == 36);
    CHECK(text[14] == '7');
    CHECK(event_id::parse(text) == id);

    // A given time: its milliseconds and the fraction's 12 bits, in order.
    const auto at = event_id::make(std::chrono::nanoseconds(1'700'000'000'123'500'000));
    CHECK(at.unix_ms() == 1'700'000'000'123);
    CHECK(at.to_string().substr(0, 19) == "018bcfe5-687b-7800-");  // 0x18bcfe5687b ms, fraction 0.5 -> 0x800
}

TEST_CASE("ids made one after another sort by time", "[event_id]") {
    std::vector<event_id> ids;
    for (int i = 0; i < 10000; ++i) ids.push_back(event_id::make());
    for (std::size_t i = 1; i < ids.size(); ++i) {
        INFO(ids[i - 1].to_string() << " then " << ids[i].to_string());
        REQUIRE(time_prefix(ids[i - 1]) <= time_prefix(ids[i]));
    }
    // Byte order is time order across milliseconds.
    const auto early = event_id::make(std::chrono::milliseconds(1000));
    const auto late = event_id::make(std::chrono::milliseconds(1001));
    CHECK(early < late);
}

TEST_CASE("the id generator is xoshiro256**: the reference implementation's outputs from state 1, 2, 3, 4",
          "[event_id]") {
    // The vector rand_xoshiro's `reference` test took from the authors' xoshiro256starstar.c.
    beacon::detail::id_generator generator;
    generator.state = {1, 2, 3, 4};
    generator.seeded = true;
    generator.generation = beacon::detail::fork_generation().load();
    const std::uint64_t expected[] = {11520ULL,
                                      0ULL,
                                      1509978240ULL,
                                      1215971899390074240ULL,
                                      1216172134540287360ULL,
                                      607988272756665600ULL,
                                      16172922978634559625ULL,
                                      8476171486693032832ULL,
                                      10595114339597558777ULL,
                                      2904607092377533576ULL};
    for (const std::uint64_t want : expected) CHECK(generator.next() == want);
}

TEST_CASE("a generator seeds itself from the operating system's entropy before its first draw", "[event_id]") {
    beacon::detail::id_generator a;
    beacon::detail::id_generator b;
    const std::uint64_t first_a = a.next();
    const std::uint64_t first_b = b.next();
    CHECK(a.seeded);
    CHECK(a.state != decltype(a.state){});
    CHECK(a.state != b.state);  // 256 bits each: equal with a probability of 2^-256
    CHECK(first_a != first_b);
}

TEST_CASE("ids made on many threads are all distinct", "[event_id][behaviour14]") {
    constexpr int threads = 4;
    constexpr int per_thread = 50000;
    std::vector<std::vector<event_id>> made(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&made, t] {
            for (int i = 0; i < per_thread; ++i) made[static_cast<std::size_t>(t)].push_back(event_id::make());
        });
    }
    for (auto& w : workers) w.join();
    std::unordered_set<event_id> all;
    for (const auto& list : made) all.insert(list.begin(), list.end());
    CHECK(all.size() == static_cast<std::size_t>(threads * per_thread));
}

TEST_CASE("a child process after fork() makes ids its parent does not", "[event_id]") {
    (void)event_id::make();  // this thread's generator exists before the fork
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(pipe_fds[0]);
        for (int i = 0; i < 1000; ++i) {
            const auto id = event_id::make();
            if (::write(pipe_fds[1], id.uuid().data, 16) != 16) ::_exit(1);
        }
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    std::set<std::string> parent;
    for (int i = 0; i < 1000; ++i) parent.insert(event_id::make().to_string());
    std::set<std::string> from_child;
    boost::uuids::uuid u{};
    while (::read(pipe_fds[0], u.data, 16) == 16) from_child.insert(event_id(u).to_string());
    ::close(pipe_fds[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    REQUIRE(from_child.size() == 1000);
    std::vector<std::string> both;
    std::set_intersection(parent.begin(), parent.end(), from_child.begin(), from_child.end(), std::back_inserter(both));
    CHECK(both.empty());
}

TEST_CASE("parse accepts RFC 9562's 8-4-4-4-12 form only", "[event_id]") {
    const auto id = event_id::parse("0190B5E4-7F0C-7A31-8C2E-5F1D2A9B3C4D");
    REQUIRE(id);
    CHECK(id->to_string() == "0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d");
    CHECK(id->version() == 7);
    CHECK(event_id::parse("00000000-0000-0000-0000-000000000000")->is_nil());
    for (const char* bad : {"", "0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4", "0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d0",
                            "{0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d}", "0190b5e47f0c7a318c2e5f1d2a9b3c4d",
                            "0190b5e4-7f0c-7a31-8c2e_5f1d2a9b3c4d", "0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4g",
                            "0190b5e-47f0c-7a31-8c2e-5f1d2a9b3c4d", "urn:uuid:0190b5e4-7f0c-7a31-8c2e-5f1d"}) {
        INFO(bad);
        CHECK_FALSE(event_id::parse(bad));
    }
    CHECK(event_id().to_string().empty());
    CHECK(event_id().version() == 0);
    CHECK(event_id().unix_ms() == 0);
    CHECK(event_id::parse("0190b5e4-7f0c-4a31-8c2e-5f1d2a9b3c4d")->unix_ms() == 0);  // version 4: no time
}
