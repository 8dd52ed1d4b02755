#pragma once
/// \file
/// Receivers connected to a signal through filters, with dispatch keyed on (action, resource name).

#include <beacon/connection.hpp>
#include <beacon/detail/filter_index.hpp>
#include <beacon/event.hpp>
#include <beacon/filter.hpp>
#include <beacon/signal.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>

namespace beacon {

/// Connects receivers to a signal through filters. It is one any-sender receiver of that signal
/// (connected along with its first receiver), holding an index of its receivers by (action,
/// resource name), built from each filter's scope: a send visits only the receivers whose filter
/// may pass the event's action and resource, then calls those whose filter passes, in connection
/// order.
///
/// A receiver's exception propagates out of the signal's `send` (the remaining filtered
/// receivers are not called). Under the signal's `send_robust`, every filtered receiver is called
/// and each one's exception (or its filter's) is reported under its own connection's `id()`.
/// Sends count each filtered receiver called.
class filtered_signal {
public:
    /// Listens to `target`, which must outlive this object, from the first `connect` on (so that
    /// until then sends stay lazy); destroying it disconnects everything it connected.
    explicit filtered_signal(::beacon::signal& target)
        : target_(&target), index_(std::make_shared<detail::filter_index>()) {}
    filtered_signal(const filtered_signal&) = delete;
    filtered_signal& operator=(const filtered_signal&) = delete;

    /// The signal this object listens to.
    ::beacon::signal& target() const noexcept { return *target_; }

    /// Connects `receiver` (callable with `const event&`) for the events `test` passes.
    template <class F>
    connection connect(filter test, F&& receiver) {
        return add(std::move(test), std::forward<F>(receiver), nullptr);
    }

    /// Connects `receiver` for the events `test` passes, while `owner` lives.
    template <class F, class T>
    connection connect(filter test, F&& receiver, const std::shared_ptr<T>& owner) {
        return add(std::move(test), std::forward<F>(receiver), owner);
    }

    /// Refuses `connect(receiver, filter)`: the filter comes first, as a signal's sender does.
    template <class F, class Test, class = std::enable_if_t<std::is_same_v<std::decay_t<Test>, filter>>>
    connection connect(F&&, Test&&) {
        static_assert(detail::always_false<F, Test>,
                      "beacon::filtered_signal::connect: the filter comes first: write connect(filter, receiver)");
        return {};
    }

    /// How many receivers are connected through this object.
    std::size_t receiver_count() const { return index_->size(); }

private:
    // `test` is moved into the index below; the call is type-dependent (std::forward<F>), so
    // clang-tidy does not see the move.
    template <class F>
    // NOLINTNEXTLINE(performance-unnecessary-value-param)
    connection add(filter test, F&& receiver, const std::shared_ptr<void>& owner) {
        using receiver_type = std::decay_t<F>;
        if constexpr (!detail::check_receiver<receiver_type>()) return {};
        // The dispatcher first: if connecting it throws, no receiver is left in the index.
        std::call_once(connected_, [this] { dispatcher_ = target_->connect(detail::filter_dispatcher{{}, index_}); });
        auto [control, id] = index_->add(std::move(test), std::forward<F>(receiver), owner);
        return connection(std::move(control), id);
    }

    ::beacon::signal* target_;
    std::shared_ptr<detail::filter_index> index_;
    std::once_flag connected_;
    scoped_connection dispatcher_;
};

}  // namespace beacon
