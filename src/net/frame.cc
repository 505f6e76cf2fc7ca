#include "net/frame.h"

#include <cassert>

#include "common/big_endian.h"
#include "common/crc32c.h"

namespace fjord::net {

void append_frame(std::string& out, std::string_view body) {
    size_t start = start_frame(out);
    out.append(body);
    finish_frame(out, start);
}

size_t start_frame(std::string& out) {
    size_t start = out.size();
    out.resize(start + kFrameHeaderSize);
    return start;
}

void finish_frame(std::string& out, size_t frame_start) {
    std::string_view body = std::string_view(out).substr(frame_start + kFrameHeaderSize);
    assert(body.size() <= kMaxFrameBody);
    char* header = out.data() + frame_start;
    be::store32(header, static_cast<uint32_t>(body.size()));
    header[4] = static_cast<char>(kFrameVersion);
    be::store32(header + 5, crc32c(body));
}

std::string_view to_string(FrameError e) {
    switch (e) {
        case FrameError::too_large:
            return "frame body too large";
        case FrameError::bad_version:
            return "unknown frame version";
        case FrameError::bad_checksum:
            return "frame checksum mismatch";
    }
    return "unknown frame error";
}

// The version is checked first: another version may not mean the same by its length.
Result<FrameHeader, FrameError> parse_frame_header(const char* header, uint32_t max_body) {
    if (static_cast<uint8_t>(header[4]) != kFrameVersion) return make_unexpected(FrameError::bad_version);
    FrameHeader h{be::load32(header), be::load32(header + 5)};
    if (h.body_size > max_body) return make_unexpected(FrameError::too_large);
    return h;
}

Result<Ok, FrameError> check_frame_body(const FrameHeader& header, std::string_view body) {
    assert(body.size() == header.body_size);
    if (crc32c(body) != header.crc) return make_unexpected(FrameError::bad_checksum);
    return Ok{};
}

}  // namespace fjord::net
