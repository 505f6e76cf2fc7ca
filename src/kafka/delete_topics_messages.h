// DeleteTopics (API key 20), classic versions 0-1: the request and response
// bodies (what follows the request/response header) as structs, and their
// codecs in both directions. The broker decodes requests and encodes
// responses; the request encoder and response decoder serve tests and tools.
//
// v1 only adds the response's throttle_time_ms.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::kafka {

inline constexpr int16_t kDeleteTopicsMinVersion = 0;
inline constexpr int16_t kDeleteTopicsMaxVersion = 1;

struct DeleteTopicsRequest {
    std::vector<std::string> topic_names;
    int32_t timeout_ms = 0;
    bool operator==(const DeleteTopicsRequest&) const = default;
};

struct DeleteTopicsResponse {
    struct TopicResult {
        std::string name;
        int16_t error_code = 0;
        bool operator==(const TopicResult&) const = default;
    };

    int32_t throttle_time_ms = 0;  // v1+
    std::vector<TopicResult> responses;
    bool operator==(const DeleteTopicsResponse&) const = default;
};

// Decoders fail on an unsupported version, truncation, trailing bytes or a
// null where the schema allows none, naming the field, e.g. "DeleteTopics v1
// request: timeout_ms: needs 4 bytes, 1 left".
Result<DeleteTopicsRequest, std::string> decode_delete_topics_request(std::string_view body, int16_t version);
Result<DeleteTopicsResponse, std::string> decode_delete_topics_response(std::string_view body,
                                                                        int16_t version);

// Encoders append to `out`; `version` must be in [min, max].
void encode_delete_topics_request(std::string& out, const DeleteTopicsRequest& request, int16_t version);
void encode_delete_topics_response(std::string& out, const DeleteTopicsResponse& response, int16_t version);

}  // namespace fjord::kafka
