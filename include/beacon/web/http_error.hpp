#pragma once
/// \file
/// http_error: a request refused or malformed (bad input from outside, a beacon::decode_error),
/// with the status it is answered with.

#include <beacon/error.hpp>

#include <ostream>  // before Beast's status.hpp: its boost/utility/string_view.hpp needs it whole

#include <boost/beast/http/status.hpp>

#include <string>

namespace beacon::web {

/// A request refused or malformed: `status()` is the answer (400, 401, 404, 405, 413, 414, 431,
/// 503, ...) and `what()` reads "[beacon.http_error] <status> <request>: <what was wrong>",
/// quoting at most a short excerpt of the request. A decode_error: `path()` is "<status> <request>".
class http_error : public decode_error {
public:
    /// `where` names the request ("GET /events" or the peer), `details` what was wrong.
    http_error(boost::beast::http::status status, const std::string& where, const std::string& details)
        : decode_error("http_error", std::to_string(static_cast<unsigned>(status)) + " " + where, details,
                       decode_reason::shape),
          status_(status) {}

    /// The status the request is answered with.
    boost::beast::http::status status() const noexcept { return status_; }

private:
    boost::beast::http::status status_;
};

}  // namespace beacon::web
