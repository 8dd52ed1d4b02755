#pragma once
/// \file
/// beacon's wire formats decoded with simdjson (optional, CMake target `beacon::simdjson`, needs
/// simdjson), namespace beacon::simdjson: simdjson::envelope() and simdjson::kinto() are
/// wire_format::envelope() and wire_format::kinto() with a decoder about five times faster, for the
/// consumers whose time goes to decoding; the same events, the same errors.

#include <beacon/simdjson/decode.hpp>
