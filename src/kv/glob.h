// Redis's glob patterns, for KEYS and SCAN MATCH: `*` any run, `?` any one
// byte, `[abc]`, `[^abc]` and `[a-z]` classes, and `\` to take the next byte
// literally.
#pragma once

#include <string_view>

namespace fjord::kv {

bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace fjord::kv
