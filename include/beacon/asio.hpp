#pragma once
/// \file
/// Receivers on the host's own Asio executors, and (C++20) signals a coroutine awaits (optional,
/// CMake target `beacon::asio`, Boost.Asio): `beacon::asio::on(executor, receiver)`, and
/// `co_await beacon::asio::next(signal)`. A C++17 build offers the first only. On clang, include it
/// before any Boost.Asio header: it enables Asio 1.74's coroutines there.

#include <beacon/asio/receiver.hpp>

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
#include <beacon/asio/awaitable.hpp>
#endif
