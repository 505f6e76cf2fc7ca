// The frame of the node-to-node transport: how one message body is delimited
// on a TCP stream and protected against corruption.
//
//   [u32 body length][u8 version = 1][u32 crc32c(body)][body]
//
// The length comes first so that a reader knows how much to wait for. The
// checksum covers the body only: a garbled length either exceeds the limit or
// misframes the body, which then fails its checksum. What a body holds is
// net/envelope.h's business.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace fjord::net {

inline constexpr size_t kFrameHeaderSize = 9;
inline constexpr uint8_t kFrameVersion = 1;
// The default limit: a frame carries many Raft messages, each at most the
// Raft core's batch limit, so anything larger is taken for garbage.
inline constexpr uint32_t kMaxFrameBody = 64u << 20;

// Appends a whole frame holding `body` (at most kMaxFrameBody bytes).
void append_frame(std::string& out, std::string_view body);

// Building a frame in place, to encode a body straight into the output buffer:
// start_frame() reserves the header and returns where the frame starts; the
// caller appends the body to `out`; finish_frame() fills in the header.
size_t start_frame(std::string& out);
void finish_frame(std::string& out, size_t frame_start);

enum class FrameError : uint8_t { too_large, bad_version, bad_checksum };
std::string_view to_string(FrameError e);

struct FrameHeader {
    uint32_t body_size{0};
    uint32_t crc{0};
};

// Parses the kFrameHeaderSize bytes at `header`.
Result<FrameHeader, FrameError> parse_frame_header(const char* header, uint32_t max_body = kMaxFrameBody);

// Verifies the body that followed `header` (exactly header.body_size bytes).
Result<Ok, FrameError> check_frame_body(const FrameHeader& header, std::string_view body);

}  // namespace fjord::net
