// raft::Message on the wire: how one Raft message travels as the payload of a
// net::Item of kind `raft` (the item carries the group). Every field is
// written, whatever the message type, so that any message decodes to exactly
// what was encoded; a leading format version lets the layout change later.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "raft/types.h"

namespace fjord::cluster {

inline constexpr uint8_t kRaftMessageFormat = 1;

// Appends the encoding of `m` to `out`.
void encode_message(std::string& out, const raft::Message& m);

// The error says which field is wrong and how, e.g. "entry 2: data: length
// 4096 exceeds the 100 bytes left".
Result<raft::Message, std::string> decode_message(std::string_view bytes);

}  // namespace fjord::cluster
