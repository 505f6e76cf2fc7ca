// The Kafka request header (schemas/RequestHeader.json): what precedes every
// request body. fjord parses header v1, the classic one, for every API and
// version it supports. ApiVersions is the exception it must still read when
// unsupported: librdkafka opens each connection with ApiVersions v3 in header
// v2, and the broker answers it with UNSUPPORTED_VERSION (docs/kafka.md), so
// the decoder reads that header far enough to find the body.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"
#include "kafka/wire.h"

namespace fjord::kafka {

struct RequestHeader {
    int16_t api_key{0};
    int16_t api_version{0};
    int32_t correlation_id{0};
    std::optional<std::string> client_id;
    bool operator==(const RequestHeader&) const = default;
};

// Reads the header from the start of a request and leaves `r` at the body.
// For an unsupported API or version (other than ApiVersions) it stops after
// the correlation id: the rest of such a request has an unknown layout, and
// the broker closes the connection anyway.
Result<RequestHeader, std::string> decode_request_header(Reader& r);

// Writes the header the way a client would: header v1, or v2 (an empty
// tagged-field section after the client id) for ApiVersions v3+.
void encode_request_header(std::string& out, const RequestHeader& header);

}  // namespace fjord::kafka
