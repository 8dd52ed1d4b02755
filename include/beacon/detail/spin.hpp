#pragma once
/// \file
/// Internals: waiting without sleeping for a moment: a pause for the core, and a lock tried a
/// while before the thread sleeps on it (the async receivers' queue).

#if __has_include(<boost/core/yield_primitives.hpp>)  // Boost 1.82 and later
#include <boost/core/yield_primitives.hpp>
#else
#include <boost/smart_ptr/detail/sp_thread_pause.hpp>
#endif

#include <mutex>

namespace beacon::detail {

/// Tells the core this thread is spinning (x86's pause): Boost's, where Boost keeps it.
inline void cpu_pause() noexcept {
#if __has_include(<boost/core/yield_primitives.hpp>)
    boost::core::sp_thread_pause();
#else
    boost::detail::sp_thread_pause();
#endif
}

/// Takes `lock`'s mutex, trying it up to 100 times with a pause between (as glibc's adaptive
/// mutexes do) before sleeping on it: for a lock held well under a microsecond, where sleeping
/// costs the waiter and the holder a futex call each.
inline void lock_soon(std::unique_lock<std::mutex>& lock) {
    for (int i = 0; i < 100; ++i) {
        if (lock.try_lock()) return;
        cpu_pause();
    }
    lock.lock();
}

}  // namespace beacon::detail
