#pragma once
// A counting global operator new for the benchmark binaries (alloc_count.cpp replaces it): each
// thread counts the allocations it makes and the bytes it holds, so that a benchmark can report
// allocations per send and bytes per connection next to its timings.

#include <cstddef>

namespace beacon_bench {

/// What the calling thread has allocated so far through operator new.
struct alloc_stats {
    std::size_t allocations;  ///< How many operator new calls this thread made.
    std::ptrdiff_t live_bytes;  ///< Bytes (malloc_usable_size) allocated minus freed by this thread.
};

/// The calling thread's allocation counts.
alloc_stats thread_allocs() noexcept;

}  // namespace beacon_bench
