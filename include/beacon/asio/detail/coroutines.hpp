#pragma once
// Lets Boost.Asio 1.74 offer its coroutines (awaitable, co_spawn, use_awaitable) wherever the
// compiler has C++20 coroutines: Asio enables them for g++ only (for clang it looks for libc++'s
// <experimental/coroutine>, which libstdc++ has not), and its awaitable.hpp uses std::exchange
// without including <utility>. Included before any Asio header by beacon::asio's headers.

#include <utility>

#if defined(__clang__) && defined(__cpp_impl_coroutine) && __cpp_impl_coroutine >= 201902L && __has_include(<coroutine>)
#include <coroutine>
#ifndef BOOST_ASIO_HAS_CO_AWAIT
#define BOOST_ASIO_HAS_CO_AWAIT 1
#endif
#ifndef BOOST_ASIO_HAS_STD_COROUTINE
#define BOOST_ASIO_HAS_STD_COROUTINE 1
#endif
#endif
