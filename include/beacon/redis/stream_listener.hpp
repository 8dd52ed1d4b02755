#pragma once
/// \file
/// The producer side of Redis Streams: a listener that appends each event to a stream with XADD,
/// bounded with `MAXLEN ~`, a batch in one round trip.

#include <beacon/detail/redis_connection.hpp>
#include <beacon/detail/redis_pool.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon {

/// The field of a stream entry that holds the event's JSON (the wire shape of `to_json`).
inline constexpr std::string_view redis_stream_field = "event";

/// Where and how a redis_stream_listener appends events.
struct redis_stream_listener_options {
    std::string url = "redis://127.0.0.1:6379/0";  ///< redis://[[user]:password@]host[:port][/db]
    std::string stream = "beacon.stream";          ///< The stream events are XADDed to.
    /// Each XADD trims the stream to about this many entries (`MAXLEN ~`, whole macro nodes, so a
    /// little more may stay); 0 leaves it unbounded. Entries still pending in a group may be trimmed.
    std::size_t max_length = 1000000;
    std::chrono::milliseconds timeout{2000};  ///< Longest wait to connect, write or read a reply.
    /// The most connections the listener uses at once (at least 1). Concurrent forwards from many
    /// threads are coalesced into pipelines on these connections (one round trip for many).
    std::size_t pool_size = 1;
};

/// Appends each event it receives to a Redis stream, as one entry whose field `event` holds the
/// JSON (the wire shape of `to_json`). Connect it to a signal like any receiver, or hand it to
/// `resource_notifier::on_after_commit` to append each commit's batch in one round trip. Copies
/// share up to `pool_size` connections, made on first use and remade when the server has
/// restarted; thread-safe: forwards from many threads at once share pipelines. A forward that
/// returns has been acknowledged by Redis; one that cannot be throws redis_error.
class redis_stream_listener {
public:
    /// A listener with `options`; throws redis_error for a bad URL (it does not connect yet).
    explicit redis_stream_listener(redis_stream_listener_options options = {})
        : state_(std::make_shared<state>(std::move(options))) {}

    /// Forwards `e` (so that `signal::connect(listener)` works).
    void operator()(const event& e) const { forward(e); }
    /// Forwards `batch` in one round trip (so that `resource_notifier::on_after_commit(listener)`
    /// appends once per commit).
    void operator()(const std::vector<event>& batch) const { forward(batch); }

    /// Appends `e` and waits for Redis to acknowledge it (one round trip). A timestamp of 0 is
    /// sent as now.
    void forward(const event& e) const {
        const std::string text = encode(e);
        state_->pool.pipeline({xadd(text)});
    }

    /// Appends every event of `batch`, in order, in one round trip and atomically (MULTI/EXEC):
    /// either all entries are added or none. Every event is encoded before anything is sent, so
    /// an encode_error sends nothing.
    void forward(const std::vector<event>& batch) const {
        if (batch.empty()) return;
        if (batch.size() == 1) return forward(batch.front());
        std::vector<std::string> texts;
        texts.reserve(batch.size());
        for (const auto& e : batch) texts.push_back(encode(e));
        std::vector<detail::redis_command> commands;
        commands.reserve(texts.size() + 2);
        commands.push_back({"MULTI"});
        for (const auto& text : texts) commands.push_back(xadd(text));
        commands.push_back({"EXEC"});
        const auto replies = state_->pool.pipeline(commands);
        // An error inside the transaction (e.g. the key holds another type) is in EXEC's reply.
        const auto& exec = replies.back();
        if (exec->type != REDIS_REPLY_ARRAY) throw redis_error(where() + ": EXEC: the transaction was aborted");
        for (std::size_t i = 0; i < exec->elements; ++i) {
            if (exec->element[i]->type == REDIS_REPLY_ERROR) {
                throw redis_error(where() + ": XADD " + state_->options.stream + ": " +
                                  std::string(exec->element[i]->str, exec->element[i]->len));
            }
        }
    }

    /// The options the listener was made with.
    const redis_stream_listener_options& options() const noexcept { return state_->options; }

private:
    static std::string encode(const event& e) {
        if (e.timestamp != 0) return nlohmann::json(e).dump();
        event stamped = e;
        stamped.stamp();
        return nlohmann::json(stamped).dump();
    }

    // XADD <stream> [MAXLEN ~ <n>] * event <text>; the views point into `state_` and `text`.
    detail::redis_command xadd(const std::string& text) const {
        if (state_->max_length.empty()) return {"XADD", state_->options.stream, "*", redis_stream_field, text};
        return {"XADD", state_->options.stream, "MAXLEN", "~", state_->max_length, "*", redis_stream_field, text};
    }

    std::string where() const { return state_->pool.endpoint().url; }

    struct state {
        explicit state(redis_stream_listener_options o)
            : options(std::move(o)),
              max_length(options.max_length ? std::to_string(options.max_length) : std::string()),
              pool(detail::parse_redis_url(options.url), options.timeout, options.pool_size) {}
        redis_stream_listener_options options;
        std::string max_length;  // as text, empty when unbounded
        detail::redis_pool pool;
    };
    std::shared_ptr<state> state_;
};

}  // namespace beacon
