// ApiVersions (key 18) in versions 0-2, the classic ones, and the reply to a
// newer ApiVersions request. A client's first request on a connection; its
// answer decides every version the client uses afterwards.
//
//   request  v0-2: empty body
//   response v0:   error_code, api_keys [api_key, min_version, max_version]
//            v1-2: the same, then throttle_time_ms
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::kafka {

// v0-2 requests carry no fields; a v3+ body (client software name and
// version, flexible encoding) is never parsed.
struct ApiVersionsRequest {
    bool operator==(const ApiVersionsRequest&) const = default;
};

struct ApiVersionEntry {
    int16_t api_key{0};
    int16_t min_version{0};
    int16_t max_version{0};
    bool operator==(const ApiVersionEntry&) const = default;
};

struct ApiVersionsResponse {
    int16_t error_code{0};
    std::vector<ApiVersionEntry> api_keys;
    int32_t throttle_time_ms{0};  // v1+
    bool operator==(const ApiVersionsResponse&) const = default;
};

Result<ApiVersionsRequest, std::string> decode_api_versions_request(std::string_view body, int16_t version);
void encode_api_versions_request(std::string& out, const ApiVersionsRequest& request, int16_t version);
void encode_api_versions_response(std::string& out, const ApiVersionsResponse& response, int16_t version);
Result<ApiVersionsResponse, std::string> decode_api_versions_response(std::string_view body, int16_t version);

// The body answering an ApiVersions request of a version fjord does not
// parse (v3+): the v0 layout with UNSUPPORTED_VERSION and the one entry
// ApiVersions 0-2, which is how Kafka refuses it. librdkafka cannot parse it
// as the flexible reply it expected, keeps the error and retries with v0;
// closing the connection instead would make it reconnect in a loop.
void encode_unsupported_api_versions_response(std::string& out);

}  // namespace fjord::kafka
