#include "kafka/request_header.h"

#include <limits>

#include "kafka/api.h"

namespace fjord::kafka {

namespace {

constexpr int16_t kApiVersionsKey = static_cast<int16_t>(ApiKey::api_versions);
// ApiVersions' first flexible version, whose requests use header v2.
constexpr int16_t kFirstFlexibleApiVersions = 3;

bool uses_header_v2(int16_t key, int16_t version) {
    return key == kApiVersionsKey && version >= kFirstFlexibleApiVersions;
}

// An unsigned LEB128 varint of at most 5 bytes, as Kafka's flexible
// encoding uses for tags and lengths; a longer one cannot be a uint32.
uint32_t read_unsigned_varint(Reader& r, const char* what) {
    uint64_t value = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        auto byte = static_cast<uint8_t>(r.i8(what));
        if (!r.ok()) return 0;
        value |= static_cast<uint64_t>(byte & 0x7F) << shift;
        if ((byte & 0x80) == 0) {
            if (value > std::numeric_limits<uint32_t>::max()) break;
            return static_cast<uint32_t>(value);
        }
    }
    r.fail(what, "varint does not fit in 32 bits");
    return 0;
}

// Header v2's tagged fields: a count, then (tag, size, bytes) per field.
// None of them means anything to fjord, so they are skipped. Each field
// takes at least two bytes, so a garbage count stops at the end of input.
void skip_tagged_fields(Reader& r) {
    uint32_t count = read_unsigned_varint(r, "header tagged field count");
    for (uint32_t i = 0; i < count && r.ok(); ++i) {
        read_unsigned_varint(r, "header tagged field tag");
        uint32_t size = read_unsigned_varint(r, "header tagged field size");
        r.skip("header tagged field data", size);
    }
}

}  // namespace

Result<RequestHeader, std::string> decode_request_header(Reader& r) {
    RequestHeader h;
    h.api_key = r.i16("request api_key");
    h.api_version = r.i16("request api_version");
    h.correlation_id = r.i32("request correlation_id");
    if (r.ok() && (supported(h.api_key, h.api_version) || h.api_key == kApiVersionsKey)) {
        // Header v2 keeps the classic nullable client id (the schema marks it
        // "flexibleVersions": "none"), so only the tagged section differs.
        h.client_id = r.nullable_string("request client_id");
        if (uses_header_v2(h.api_key, h.api_version)) skip_tagged_fields(r);
    }
    if (!r.ok()) return make_unexpected(r.error());
    return h;
}

void encode_request_header(std::string& out, const RequestHeader& header) {
    Writer w(out);
    w.i16(header.api_key);
    w.i16(header.api_version);
    w.i32(header.correlation_id);
    w.nullable_string(header.client_id);
    if (uses_header_v2(header.api_key, header.api_version)) w.i8(0);  // no tagged fields
}

}  // namespace fjord::kafka
