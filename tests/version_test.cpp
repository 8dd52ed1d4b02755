// beacon/version.hpp must name the version of the CMake project (BEACON_PROJECT_VERSION, passed
// by tests/CMakeLists.txt from PROJECT_VERSION): this fails when one is changed without the other.
#include <beacon/version.hpp>

#include <beacon/beacon.hpp>

#include <catch2/catch.hpp>

#include <string>

TEST_CASE("version.hpp matches the CMake project version", "[version]") {
    CHECK(std::string(beacon::version_string) == BEACON_PROJECT_VERSION);
    CHECK(std::to_string(BEACON_VERSION_MAJOR) + "." + std::to_string(BEACON_VERSION_MINOR) + "." +
              std::to_string(BEACON_VERSION_PATCH) ==
          BEACON_PROJECT_VERSION);
    CHECK(beacon::version == BEACON_VERSION_MAJOR * 10000 + BEACON_VERSION_MINOR * 100 + BEACON_VERSION_PATCH);
}
