// Peak heap while parse_event reads one hostile or ordinary message, per shape, relative to the
// message's size: `json_memory [KiB]` (default 8192) prints one line per shape. The heap is
// counted by this program's own operator new (bytes from malloc_usable_size), so the figure is
// what the parse itself costs, the message text excluded. CTest smoke-runs it with 64 KiB
// messages. Under ThreadSanitizer, whose runtime defines operator new, nothing is counted.
#include <beacon/event.hpp>

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <string>
#include <utility>
#include <vector>

#if defined(__SANITIZE_THREAD__)
#define BEACON_COUNTS_HEAP 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BEACON_COUNTS_HEAP 0
#endif
#endif
#ifndef BEACON_COUNTS_HEAP
#define BEACON_COUNTS_HEAP 1
#endif

namespace {
std::size_t live = 0;
std::size_t peak = 0;
}  // namespace

#if BEACON_COUNTS_HEAP
void* operator new(std::size_t size) {
    void* p = std::malloc(size == 0 ? 1 : size);
    if (p == nullptr) throw std::bad_alloc();
    live += malloc_usable_size(p);
    if (live > peak) peak = live;
    return p;
}
void operator delete(void* p) noexcept {
    if (p != nullptr) live -= malloc_usable_size(p);
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }
#endif

namespace {

// `prefix`, then `unit` repeated to fill about `size` bytes, then `suffix`.
std::string fill(const std::string& prefix, const std::string& unit, const std::string& suffix, std::size_t size,
                 const std::string& last_unit = {}) {
    std::string text = prefix;
    text.reserve(size + 64);
    while (text.size() + unit.size() + suffix.size() < size) text += unit;
    if (!last_unit.empty()) text += last_unit;
    return text + suffix;
}

std::string record(std::size_t i) {
    return R"({"new": {"id": "rec-)" + std::to_string(i) +
           R"(", "last_modified": 1447240896769, "title": "a title", "done": false}},)";
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t size = (argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 8192) << 10;
    std::vector<std::pair<const char*, std::string>> shapes;
    shapes.emplace_back("[ repeated (depth)", std::string(size, '['));
    shapes.emplace_back("{\"a\": repeated (depth)", fill("", "{\"a\":", "", size));
    shapes.emplace_back("one long string", fill(R"({"payload": {"s": ")", "x", "\"}}", size));
    shapes.emplace_back("many small keys", [&] {
        std::string t = R"({"payload": {)";
        for (std::size_t i = 0; t.size() < size; ++i) t += "\"k" + std::to_string(i) + "\":0,";
        t.back() = '}';
        return t + "}";
    }());
    shapes.emplace_back("keys with {} values", [&] {
        std::string t = R"({"payload": {)";
        for (std::size_t i = 0; t.size() < size; ++i) t += "\"" + std::to_string(i) + "\":{},";
        t.back() = '}';
        return t + "}";
    }());
    shapes.emplace_back("[0,0,...]", fill(R"({"payload": {"a": [)", "0,", "]}}", size, "0"));
    shapes.emplace_back("[[],[],...]", fill(R"({"payload": {"a": [)", "[],", "]}}", size, "[]"));
    shapes.emplace_back("[{},{},...]", fill(R"({"payload": {"a": [)", "{},", "]}}", size, "{}"));
    shapes.emplace_back("[\"\",\"\",...]", fill(R"({"payload": {"a": [)", "\"\",", "]}}", size, "\"\""));
    shapes.emplace_back("impacted records {}", fill(R"({"payload": {}, "impacted_records": [)", "{},", "]}", size, "{}"));
    shapes.emplace_back("[{},...] then a syntax error", fill(R"({"payload": {"a": [)", "{},", "", size, "x"));
    shapes.emplace_back("Kinto-like records", [&] {
        std::string t = R"({"sender": "kinto", "payload": {"action": "delete", "resource_name": "record", "uri": "/buckets/b/collections/c/records", "bucket_id": "b", "collection_id": "c"}, "impacted_records": [)";
        for (std::size_t i = 0; t.size() < size; ++i) t += record(i);
        t.back() = ']';
        return t + "}";
    }());

    beacon::json_limits limits;
    limits.max_bytes = size + 4096;
    std::printf("peak heap of parse_event per message size, %zu KiB messages (max_depth %zu)%s:\n", size >> 10,
                limits.max_depth, BEACON_COUNTS_HEAP ? "" : " [not counted under ThreadSanitizer]");
    for (const auto& [name, text] : shapes) {
        const std::size_t base = live;
        peak = live;
        const char* outcome = "decoded";
        try {
            const auto e = beacon::parse_event(text, limits);
        } catch (const beacon::decode_error& bad) {
            outcome = bad.reason() == beacon::decode_reason::too_deep ? "too_deep" : "rejected";
        }
        std::printf("%-30s %9zu bytes  %-9s peak %8.1f MiB  x%.2f\n", name, text.size(), outcome,
                    static_cast<double>(peak - base) / (1 << 20),
                    static_cast<double>(peak - base) / static_cast<double>(text.size()));
    }
}
