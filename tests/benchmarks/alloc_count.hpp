#pragma once
// A counting global operator new for the benchmark binaries (alloc_count.cpp replaces it): each
// thread counts the allocations it makes and, while a byte_count lives, the bytes it holds, so that
// a benchmark can report allocations per send and bytes per connection next to its timings.

#include <cstddef>

namespace beacon_bench {

/// What the calling thread has allocated so far through operator new.
struct alloc_stats {
    std::size_t allocations;    ///< How many operator new calls this thread made.
    std::ptrdiff_t live_bytes;  ///< Bytes (malloc_usable_size) allocated minus freed while counted.
};

/// Whether this build counts allocations: not under ThreadSanitizer, whose runtime defines
/// operator new itself (then thread_allocs() stays at zero and the counters are not reported).
bool counts_allocations() noexcept;

/// The calling thread's allocation counts.
alloc_stats thread_allocs() noexcept;

/// Counts the bytes the calling thread allocates and frees for as long as it lives (sizing each
/// block costs time, so the timed benchmarks leave it off).
class byte_count {
public:
    byte_count() noexcept;
    byte_count(const byte_count&) = delete;
    byte_count& operator=(const byte_count&) = delete;
    ~byte_count();
};

}  // namespace beacon_bench
