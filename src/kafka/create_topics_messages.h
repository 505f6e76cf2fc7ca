// CreateTopics (API key 19), classic versions 2-4: the request and response
// bodies (what follows the request/response header) as structs, and their
// codecs in both directions. The broker decodes requests and encodes
// responses; the request encoder and response decoder serve tests and tools.
//
// v2-4 share one layout. v4 only lets num_partitions and replication_factor
// be -1 for "the broker's default"; the codec carries the numbers as sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::kafka {

inline constexpr int16_t kCreateTopicsMinVersion = 2;
inline constexpr int16_t kCreateTopicsMaxVersion = 4;

struct CreateTopicsRequest {
    struct Assignment {
        int32_t partition_index = 0;
        std::vector<int32_t> broker_ids;
        bool operator==(const Assignment&) const = default;
    };
    struct Config {
        std::string name;
        std::optional<std::string> value;
        bool operator==(const Config&) const = default;
    };
    struct Topic {
        std::string name;
        // -1 with manual assignments, or (v4+) for the broker's default.
        int32_t num_partitions = -1;
        int16_t replication_factor = -1;
        // Empty for automatic assignment.
        std::vector<Assignment> assignments;
        std::vector<Config> configs;
        bool operator==(const Topic&) const = default;
    };

    std::vector<Topic> topics;
    int32_t timeout_ms = 60000;
    bool validate_only = false;
    bool operator==(const CreateTopicsRequest&) const = default;
};

struct CreateTopicsResponse {
    struct Topic {
        std::string name;
        int16_t error_code = 0;
        std::optional<std::string> error_message;
        bool operator==(const Topic&) const = default;
    };

    int32_t throttle_time_ms = 0;
    std::vector<Topic> topics;
    bool operator==(const CreateTopicsResponse&) const = default;
};

// Decoders fail on an unsupported version, truncation, trailing bytes or a
// null where the schema allows none, naming the field, e.g. "CreateTopics v3
// request: topics.configs.value: needs 5 bytes, 2 left".
Result<CreateTopicsRequest, std::string> decode_create_topics_request(std::string_view body, int16_t version);
Result<CreateTopicsResponse, std::string> decode_create_topics_response(std::string_view body,
                                                                        int16_t version);

// Encoders append to `out`; `version` must be in [min, max].
void encode_create_topics_request(std::string& out, const CreateTopicsRequest& request, int16_t version);
void encode_create_topics_response(std::string& out, const CreateTopicsResponse& response, int16_t version);

}  // namespace fjord::kafka
