// Replaces the global operator new/delete (the array forms forward to these) to count
// allocations per thread; see alloc_count.hpp.

#include "alloc_count.hpp"

#include <malloc.h>

#include <cstdlib>
#include <new>

#if defined(__SANITIZE_THREAD__)
#define BEACON_BENCH_COUNTS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BEACON_BENCH_COUNTS 0
#endif
#endif
#ifndef BEACON_BENCH_COUNTS
#define BEACON_BENCH_COUNTS 1
#endif

namespace {
thread_local std::size_t allocations = 0;
thread_local std::ptrdiff_t live_bytes = 0;
thread_local bool counting_bytes = false;
}  // namespace

bool beacon_bench::counts_allocations() noexcept { return BEACON_BENCH_COUNTS != 0; }

beacon_bench::alloc_stats beacon_bench::thread_allocs() noexcept { return {allocations, live_bytes}; }

beacon_bench::byte_count::byte_count() noexcept { counting_bytes = true; }
beacon_bench::byte_count::~byte_count() { counting_bytes = false; }

#if BEACON_BENCH_COUNTS

void* operator new(std::size_t size) {
    void* p = std::malloc(size == 0 ? 1 : size);
    if (p == nullptr) throw std::bad_alloc();
    ++allocations;
    if (counting_bytes) live_bytes += static_cast<std::ptrdiff_t>(malloc_usable_size(p));
    return p;
}

void operator delete(void* p) noexcept {
    if (p != nullptr && counting_bytes) live_bytes -= static_cast<std::ptrdiff_t>(malloc_usable_size(p));
    std::free(p);
}

void operator delete(void* p, std::size_t) noexcept { ::operator delete(p); }

#endif  // BEACON_BENCH_COUNTS
