#pragma once
// beacon_test::range: the numbers a test expects, as numbered events carry them.

#include <vector>

namespace beacon_test {

// first, first + 1, ..., last - 1.
inline std::vector<int> range(int first, int last) {
    std::vector<int> out;
    for (int n = first; n < last; ++n) out.push_back(n);
    return out;
}

}  // namespace beacon_test
