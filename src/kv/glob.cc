#include "kv/glob.h"

#include <cstddef>
#include <utility>

namespace fjord::kv {

namespace {

// Matches the class starting at pattern[p] (just past '[') against `c`;
// sets `end` to just past the closing ']' (or the pattern's end).
bool class_matches(std::string_view pattern, size_t p, char c, size_t& end) {
    bool negate = p < pattern.size() && pattern[p] == '^';
    if (negate) ++p;
    bool matched = false;
    while (p < pattern.size() && pattern[p] != ']') {
        if (pattern[p] == '\\' && p + 1 < pattern.size()) {
            matched = matched || pattern[p + 1] == c;
            p += 2;
        } else if (p + 2 < pattern.size() && pattern[p + 1] == '-' && pattern[p + 2] != ']') {
            char lo = pattern[p], hi = pattern[p + 2];
            if (lo > hi) std::swap(lo, hi);
            matched = matched || (c >= lo && c <= hi);
            p += 3;
        } else {
            matched = matched || pattern[p] == c;
            ++p;
        }
    }
    end = p < pattern.size() ? p + 1 : p;
    return negate ? !matched : matched;
}

}  // namespace

// Backtracks only to the latest '*': linear in practice, never exponential.
bool glob_match(std::string_view pattern, std::string_view text) {
    size_t p = 0, t = 0;
    size_t star = std::string_view::npos, star_t = 0;
    while (t < text.size()) {
        if (p < pattern.size()) {
            char pc = pattern[p];
            if (pc == '*') {
                star = ++p;
                star_t = t;
                continue;
            }
            if (pc == '?') {
                ++p;
                ++t;
                continue;
            }
            if (pc == '[') {
                size_t end = 0;
                if (class_matches(pattern, p + 1, text[t], end)) {
                    p = end;
                    ++t;
                    continue;
                }
            } else {
                if (pc == '\\' && p + 1 < pattern.size()) pc = pattern[++p];
                if (pc == text[t]) {
                    ++p;
                    ++t;
                    continue;
                }
            }
        }
        if (star == std::string_view::npos) return false;
        p = star;
        t = ++star_t;
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

}  // namespace fjord::kv
