#pragma once
/// \file
/// Internals: the check of a table name that the database parts (SQLite, PostgreSQL) splice into
/// their statements.

#include <beacon/error.hpp>

#include <string>

namespace beacon::detail {

/// Throws config_error naming `/table` unless `table` is a plain SQL name: letters, digits and
/// '_', at most 63 (PostgreSQL's limit), not starting with a digit; it is spliced into statements.
inline void check_sql_name(const std::string& table) {
    const auto plain = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9');
    };
    bool ok = !table.empty() && table.size() <= 63 && !(table[0] >= '0' && table[0] <= '9');
    for (char c : table) ok = ok && plain(c);
    if (!ok) {
        throw config_error("", "/table",
                           "\"" + table.substr(0, 64) + "\" is not a plain SQL table name (letters, digits, '_', at most 63)");
    }
}

}  // namespace beacon::detail
