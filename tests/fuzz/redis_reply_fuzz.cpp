// libFuzzer target: the Redis replies a stream_consumer parses (beacon/redis/detail/replies.hpp).
// The input builds a redisReply tree, as hiredis would hand it over but of any shape: byte 0
// picks the reply (XREADGROUP, XCLAIM, XAUTOCLAIM, XPENDING, or a stream entry's field list),
// bytes 1-3 the COUNT asked for, max_fields and max_entry_bytes; then each node is a type byte
// (array, string, status, integer, nil, error) and its contents: an array's element count (at
// most 12, nesting at most 6 levels, 4096 nodes in all), a text's length and bytes (length 255:
// the field name "event"), an integer's signed byte. Every array and text is allocated at its
// exact size, so that AddressSanitizer catches any read past one.
// Contract: each parser returns entries, ids or counts that are exactly what the tree holds
// (within the COUNT asked for), or throws redis_error "<url>: <command> <stream>: unexpected
// reply shape", nothing else; check_entry returns the payload (the value of the last field named
// "event") of an entry within max_fields and max_entry_bytes, or the problem it has, and says
// `bounded` exactly when the entry is a field list within both bounds.
#include <beacon/redis/detail/replies.hpp>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace detail = beacon::redis::detail;

constexpr std::string_view field = "event";  // beacon::redis::stream_field

// A redisReply tree read from the input; owns every node, array and text.
class reply_tree {
public:
    explicit reply_tree(std::string_view in) : in_(in) { root_ = node(0); }
    const redisReply* root() const noexcept { return root_; }

private:
    static constexpr int types[] = {REDIS_REPLY_ARRAY, REDIS_REPLY_STRING,  REDIS_REPLY_STATUS,
                                    REDIS_REPLY_INTEGER, REDIS_REPLY_NIL, REDIS_REPLY_ERROR};

    std::uint8_t next() {
        if (in_.empty()) return 0;
        const auto byte = static_cast<std::uint8_t>(in_.front());
        in_.remove_prefix(1);
        return byte;
    }

    redisReply* node(std::size_t depth) {
        nodes_.push_back(std::make_unique<redisReply>());
        redisReply* r = nodes_.back().get();
        *r = redisReply{};
        r->type = in_.empty() ? REDIS_REPLY_NIL : types[next() % 6];
        if (r->type == REDIS_REPLY_ARRAY && (depth >= 6 || nodes_.size() >= 4096)) r->type = REDIS_REPLY_NIL;
        if (r->type == REDIS_REPLY_ARRAY) {
            r->elements = next() % 13u;
            arrays_.emplace_back(new redisReply*[r->elements]);
            r->element = arrays_.back().get();
            for (std::size_t i = 0; i < r->elements; ++i) r->element[i] = node(depth + 1);
        } else if (r->type == REDIS_REPLY_INTEGER) {
            r->integer = static_cast<std::int8_t>(next());
        } else if (r->type != REDIS_REPLY_NIL) {
            const std::uint8_t length = next();
            const std::string_view text = length == 255 ? field : in_.substr(0, length);
            if (length != 255) in_.remove_prefix(text.size());
            texts_.emplace_back(new char[text.size()]);
            r->str = texts_.back().get();
            r->len = text.size();
            if (!text.empty()) std::copy(text.begin(), text.end(), r->str);
        }
        return r;
    }

    std::string_view in_;
    std::vector<std::unique_ptr<redisReply>> nodes_;
    std::vector<std::unique_ptr<redisReply*[]>> arrays_;
    std::vector<std::unique_ptr<char[]>> texts_;
    redisReply* root_ = nullptr;
};

bool is_text(const redisReply* r) { return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS; }
std::string_view text(const redisReply* r) { return {r->str, r->len}; }
void require(bool ok) {
    if (!ok) std::abort();
}

// check_entry against what the field list holds, computed here on its own; then the fields are
// read as dead_letter copies them.
void check_fields(const redisReply& fields, std::size_t max_fields, std::size_t max_bytes) {
    const auto checked = detail::check_entry(fields, field, max_fields, max_bytes);
    bool list = fields.type == REDIS_REPLY_ARRAY && fields.elements % 2 == 0 && fields.elements / 2 <= max_fields;
    std::size_t bytes = 0;
    const redisReply* payload = nullptr;
    for (std::size_t i = 0; list && i < fields.elements; ++i) {
        list = is_text(fields.element[i]);
        if (list) bytes += fields.element[i]->len;
        if (list && i % 2 == 0 && text(fields.element[i]) == field) payload = fields.element[i + 1];
    }
    require(checked.bounded == (list && bytes <= max_bytes));
    require(checked.problem.empty() == (checked.bounded && payload != nullptr));
    if (checked.problem.empty()) {
        require(checked.payload.data() == payload->str && checked.payload.size() == payload->len);
    }
    if (!checked.bounded) return;
    std::size_t copied = 0;
    for (std::size_t i = 0; i + 1 < fields.elements; i += 2) {
        copied += detail::text_view(fields.element[i]).size() + detail::text_view(fields.element[i + 1]).size();
    }
    require(copied == bytes);
}

// The entries parsed from `list` are its items, in order.
void check_entries(const std::vector<detail::stream_entry>& entries, const redisReply* list, std::size_t batch,
                   std::size_t max_fields, std::size_t max_bytes) {
    require(list->type == REDIS_REPLY_ARRAY && entries.size() == list->elements && entries.size() <= batch);
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const redisReply* item = list->element[i];
        require(entries[i].id == text(item->element[0]));
        require(entries[i].fields == (item->element[1]->type == REDIS_REPLY_NIL ? nullptr : item->element[1]));
        if (entries[i].fields) check_fields(*entries[i].fields, max_fields, max_bytes);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    const unsigned which = data[0] % 5u;
    const std::size_t batch = 1u + data[1] % 8u;
    const std::size_t max_fields = data[2] % 8u;
    const std::size_t max_bytes = std::size_t{data[3]} * 4u;
    const reply_tree tree(std::string_view(reinterpret_cast<const char*>(data) + 4, size - 4));
    const redisReply* reply = tree.root();
    const detail::reply_source from{"redis://127.0.0.1:6379/0", "beacon.stream"};
    const char* command = "";
    try {
        switch (which) {
            case 0: {
                command = "XREADGROUP";
                const auto entries = detail::entries_of_read(reply, batch, from);
                if (reply->type == REDIS_REPLY_NIL) {
                    require(entries.empty());
                } else {
                    check_entries(entries, reply->element[0]->element[1], batch, max_fields, max_bytes);
                }
                break;
            }
            case 1:
                command = "XCLAIM";
                check_entries(detail::entries_of(reply, batch, command, from), reply, batch, max_fields, max_bytes);
                break;
            case 2: {
                command = "XAUTOCLAIM";
                const auto step = detail::autoclaim_of(reply, batch, from);
                require(step.cursor == text(reply->element[0]));
                const redisReply* ids = reply->element[1];
                require(step.ids.size() == ids->elements && step.ids.size() <= batch);
                for (std::size_t i = 0; i < step.ids.size(); ++i) require(step.ids[i] == text(ids->element[i]));
                break;
            }
            case 3: {
                command = "XPENDING";
                const auto counts = detail::delivery_counts_of(reply, from);
                require(counts.size() <= reply->elements);
                for (std::size_t i = 0; i < reply->elements; ++i) {  // each id: its last row's count
                    const auto it = counts.find(std::string(text(reply->element[i]->element[0])));
                    require(it != counts.end());
                    bool later = false;
                    for (std::size_t j = i + 1; j < reply->elements; ++j) {
                        later = later || text(reply->element[j]->element[0]) == it->first;
                    }
                    require(later || static_cast<long long>(it->second) == reply->element[i]->element[3]->integer);
                }
                break;
            }
            default:
                check_fields(*reply, max_fields, max_bytes);
                break;
        }
    } catch (const beacon::redis::redis_error& bad) {
        const std::string_view what = bad.what();
        require(what.find(std::string(command) + " beacon.stream: unexpected reply shape") != std::string_view::npos);
    }
    // Any other exception escapes and libFuzzer reports it as a crash.
    return 0;
}
