#include "kafka/api_versions.h"

#include <cassert>

#include "kafka/api.h"
#include "kafka/wire.h"

namespace fjord::kafka {

namespace {

constexpr int16_t kKey = static_cast<int16_t>(ApiKey::api_versions);
// api_key, min_version, max_version.
constexpr size_t kMinEntrySize = 2 + 2 + 2;

std::string unsupported_version(int16_t version) {
    return "ApiVersions v" + std::to_string(version) + " is not supported";
}

ApiVersionEntry read_entry(Reader& r) {
    ApiVersionEntry e;
    e.api_key = r.i16("api_keys api_key");
    e.min_version = r.i16("api_keys min_version");
    e.max_version = r.i16("api_keys max_version");
    return e;
}

}  // namespace

Result<ApiVersionsRequest, std::string> decode_api_versions_request(std::string_view body, int16_t version) {
    if (!supported(kKey, version)) return make_unexpected(unsupported_version(version));
    Reader r(body);
    return finish_decode(r, ApiVersionsRequest{}, "ApiVersions request");
}

// The body is empty in every version fjord parses.
void encode_api_versions_request(std::string& /*out*/, const ApiVersionsRequest& /*request*/,
                                 [[maybe_unused]] int16_t version) {
    assert(supported(kKey, version));
}

void encode_api_versions_response(std::string& out, const ApiVersionsResponse& response, int16_t version) {
    assert(supported(kKey, version));
    Writer w(out);
    w.i16(response.error_code);
    write_vector(w, response.api_keys, [&](const ApiVersionEntry& e) {
        w.i16(e.api_key);
        w.i16(e.min_version);
        w.i16(e.max_version);
    });
    if (version >= 1) w.i32(response.throttle_time_ms);
}

Result<ApiVersionsResponse, std::string> decode_api_versions_response(std::string_view body,
                                                                      int16_t version) {
    if (!supported(kKey, version)) return make_unexpected(unsupported_version(version));
    Reader r(body);
    ApiVersionsResponse resp;
    resp.error_code = r.i16("error_code");
    resp.api_keys = read_vector(r, "api_keys", kMinEntrySize, [&] { return read_entry(r); });
    if (version >= 1) resp.throttle_time_ms = r.i32("throttle_time_ms");
    return finish_decode(r, std::move(resp), "ApiVersions response");
}

void encode_unsupported_api_versions_response(std::string& out) {
    ApiVersionsResponse resp;
    resp.error_code = static_cast<int16_t>(ErrorCode::unsupported_version);
    // The versions fjord does parse, so a client may retry within them.
    resp.api_keys.push_back({kKey, 0, 2});
    encode_api_versions_response(out, resp, 0);
}

}  // namespace fjord::kafka
