#pragma once
/// @file
/// beacon's version, for programs that test it at compile time. It must equal the version of the
/// CMake project (CMakeLists.txt): version_test fails when they differ.

#include <string_view>

/// The major version: raised by changes that break programs using beacon.
#define BEACON_VERSION_MAJOR 0
/// The minor version: raised by features added compatibly.
#define BEACON_VERSION_MINOR 2
/// The patch version: raised by fixes.
#define BEACON_VERSION_PATCH 0
/// The version as one number, MAJOR * 10000 + MINOR * 100 + PATCH, for `#if` tests.
#define BEACON_VERSION (BEACON_VERSION_MAJOR * 10000 + BEACON_VERSION_MINOR * 100 + BEACON_VERSION_PATCH)

// A helper, #undef'ed below, out of the API reference.
/// @cond
#define BEACON_VERSION_QUOTE_(x) #x
#define BEACON_VERSION_QUOTE(x) BEACON_VERSION_QUOTE_(x)
/// @endcond

namespace beacon {

/// The version of the beacon headers a program is compiled with, as BEACON_VERSION.
inline constexpr int version = BEACON_VERSION;
/// The version as "MAJOR.MINOR.PATCH".
inline constexpr std::string_view version_string = BEACON_VERSION_QUOTE(BEACON_VERSION_MAJOR) "." BEACON_VERSION_QUOTE(
    BEACON_VERSION_MINOR) "." BEACON_VERSION_QUOTE(BEACON_VERSION_PATCH);

}  // namespace beacon

#undef BEACON_VERSION_QUOTE
#undef BEACON_VERSION_QUOTE_
