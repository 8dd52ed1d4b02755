#pragma once
/// \file
/// Events already written in a wire format (an outbox's rows, read back by its relay): their texts
/// in order and the format that reads them, so that a forwarder writing the same format sends the
/// bytes as they are instead of decoding and encoding each event again.

#include <beacon/event.hpp>
#include <beacon/wire_format.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon {

/// The texts of events written in one wire format, in order, kept in one buffer.
class encoded_events {
public:
    /// No texts yet; those added are in `format` (beacon's envelope by default).
    explicit encoded_events(wire_format format = wire_format::envelope()) : format_(std::move(format)) {}

    /// Appends one event's text (taken as it is: checking it is the caller's business).
    void push_back(std::string_view text) {
        texts_.append(text);
        ends_.push_back(texts_.size());
    }

    /// Removes every text, keeping the memory for the next ones.
    void clear() noexcept {
        texts_.clear();
        ends_.clear();
    }

    /// How many texts there are.
    std::size_t size() const noexcept { return ends_.size(); }
    /// Whether there is none.
    bool empty() const noexcept { return ends_.empty(); }
    /// The `i`th text (valid until the next push_back).
    std::string_view operator[](std::size_t i) const noexcept {
        const std::size_t start = i == 0 ? 0 : ends_[i - 1];
        return std::string_view(texts_).substr(start, ends_[i] - start);
    }
    /// The format of every text.
    const wire_format& format() const noexcept { return format_; }
    /// The `i`th event, decoded within `limits`; throws decode_error.
    event decode(std::size_t i, const json_limits& limits = {}) const { return format_.decode((*this)[i], limits); }

private:
    wire_format format_;
    std::string texts_;
    std::vector<std::size_t> ends_;
};

}  // namespace beacon
