#pragma once
// What beacon accepts as a receiver, checked at compile time with messages saying what to write:
// a callable taking `const beacon::event&` (exactly that, when its parameter type can be read),
// returning nothing or a value convertible to nlohmann::json (collected by signal::send_collect).

#include <beacon/event.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <string_view>
#include <type_traits>
#include <utility>

namespace beacon::detail {

/// The parameter list of a callable whose call operator is not a template nor overloaded
/// (`known`), from its function type.
template <class Function>
struct function_parameters {
    static constexpr bool known = false;
};

template <class... A>
struct first_of {
    using type = void;
};
template <class A0, class... A>
struct first_of<A0, A...> {
    using type = A0;
};

template <class R, class... A>
struct function_parameters<R(A...)> {
    static constexpr bool known = true;
    static constexpr std::size_t arity = sizeof...(A);
    using first = typename first_of<A...>::type;
};

// Strips what a member function type or a function type may carry besides its parameters.
template <class M>
struct plain_function;
// NOLINTBEGIN(bugprone-macro-parentheses): QUALIFIERS are a member function's qualifiers (const,
// &, &&...), which parentheses would turn into a syntax error.
#define BEACON_DETAIL_PLAIN_FUNCTION(QUALIFIERS)                     \
    template <class R, class C, class... A>                          \
    struct plain_function<R (C::*)(A...) QUALIFIERS> {               \
        using type = R(A...);                                        \
    };                                                               \
    template <class R, class C, class... A>                          \
    struct plain_function<R (C::*)(A...) QUALIFIERS noexcept> {      \
        using type = R(A...);                                        \
    };
// NOLINTEND(bugprone-macro-parentheses)
BEACON_DETAIL_PLAIN_FUNCTION()
BEACON_DETAIL_PLAIN_FUNCTION(const)
BEACON_DETAIL_PLAIN_FUNCTION(&)
BEACON_DETAIL_PLAIN_FUNCTION(const&)
BEACON_DETAIL_PLAIN_FUNCTION(&&)
BEACON_DETAIL_PLAIN_FUNCTION(const&&)
#undef BEACON_DETAIL_PLAIN_FUNCTION

template <class F, class = void>
struct receiver_parameters : function_parameters<void> {};

// A lambda or a function object with one non-template operator().
template <class F>
struct receiver_parameters<F, std::void_t<decltype(&F::operator())>>
    : function_parameters<typename plain_function<decltype(&F::operator())>::type> {};

template <class R, class... A>
struct receiver_parameters<R (*)(A...)> : function_parameters<R(A...)> {};
template <class R, class... A>
struct receiver_parameters<R (*)(A...) noexcept> : function_parameters<R(A...)> {};
template <class R, class... A>
struct receiver_parameters<R(A...)> : function_parameters<R(A...)> {};
template <class R, class... A>
struct receiver_parameters<R(A...) noexcept> : function_parameters<R(A...)> {};

/// Whether `F` (decayed) is a receiver beacon accepts: callable with `const event&`, and when its
/// parameter can be read, taking exactly `const event&` (not a type an event converts to, such
/// as nlohmann::json, which would get the whole wire envelope).
template <class F>
constexpr bool takes_event() {
    using params = receiver_parameters<F>;
    if constexpr (params::known) {
        return params::arity == 1 && std::is_same_v<typename params::first, const event&>;
    } else {
        return std::is_invocable_v<F&, const event&>;
    }
}

/// Whether member function pointer `M` takes exactly `const event&`.
template <class M>
constexpr bool method_takes_event() {
    using params = function_parameters<typename plain_function<M>::type>;
    return params::arity == 1 && std::is_same_v<typename params::first, const event&>;
}

/// Whether a receiver's result can be collected: nothing, or a value nlohmann::json takes.
template <class R>
constexpr bool collectable_result() {
    return std::is_void_v<R> || std::is_constructible_v<nlohmann::json, R>;
}

/// Checks receiver type `F` (decayed) with readable messages; true when it is accepted, so that
/// callers can skip instantiating more code (and more errors) for a refused one.
template <class F>
constexpr bool check_receiver() {
    constexpr bool takes = takes_event<F>();
    static_assert(takes,
                  "beacon: the receiver must be callable with (const beacon::event&): write "
                  "[](const beacon::event& e) { ... } (read e.data for the keyword arguments, or "
                  "nlohmann::json(e) for the whole envelope)");
    if constexpr (takes) {
        constexpr bool collectable = collectable_result<std::invoke_result_t<F&, const event&>>();
        static_assert(collectable,
                      "beacon: a receiver returns nothing or a value convertible to nlohmann::json "
                      "(signal::send_collect gathers it); return void, or a json-convertible value");
        return collectable;
    } else {
        return false;
    }
}

/// Calls `receiver` with `e` and gives back what it returned as JSON (null for void).
template <class F>
nlohmann::json call_for_value(F& receiver, const event& e) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, const event&>>) {
        std::invoke(receiver, e);
        return nullptr;
    } else {
        return nlohmann::json(std::invoke(receiver, e));
    }
}

/// Whether `T` names a sender: what connect takes first ("admin", a std::string, ...).
template <class T>
inline constexpr bool is_sender_v = std::is_convertible_v<T, std::string_view>;

/// Whether `Make` builds an event: callable with no argument, returning a beacon::event (what
/// signal::send(sender, make) takes).
template <class Make>
inline constexpr bool is_event_builder_v = std::is_invocable_r_v<event, std::decay_t<Make>&>;

/// Whether a receiver of type `F` may be empty: a std::function or a function pointer.
template <class F>
inline constexpr bool is_nullable_v = std::is_pointer_v<F>;
template <class Signature>
inline constexpr bool is_nullable_v<std::function<Signature>> = true;

/// For static_assert in templates that exist only to refuse a call.
template <class...>
inline constexpr bool always_false = false;

}  // namespace beacon::detail
