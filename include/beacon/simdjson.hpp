#pragma once
/// \file
/// beacon's wire formats decoded with simdjson (optional, CMake target `beacon::simdjson`, needs
/// simdjson), namespace beacon::simdjson: simdjson::envelope(), kinto() and cloudevents() are the
/// core's wire formats of those names with a decoder about five times faster, for the consumers
/// whose time goes to decoding; the same events, the same errors.

#include <beacon/simdjson/decode.hpp>
