// CreatePartitions (API key 37), classic versions 0-1: the request and
// response bodies (what follows the request/response header) as structs, and
// their codecs in both directions. The broker decodes requests and encodes
// responses; the request encoder and response decoder serve tests and tools.
//
// v0 and v1 share one layout (v1 only changed quota behaviour).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::kafka {

inline constexpr int16_t kCreatePartitionsMinVersion = 0;
inline constexpr int16_t kCreatePartitionsMaxVersion = 1;

struct CreatePartitionsRequest {
    // The replicas of one new partition.
    struct Assignment {
        std::vector<int32_t> broker_ids;
        bool operator==(const Assignment&) const = default;
    };
    struct Topic {
        std::string name;
        // The new total partition count.
        int32_t count = 0;
        // One entry per new partition, or null to let the broker place them.
        std::optional<std::vector<Assignment>> assignments;
        bool operator==(const Topic&) const = default;
    };

    std::vector<Topic> topics;
    int32_t timeout_ms = 0;
    bool validate_only = false;
    bool operator==(const CreatePartitionsRequest&) const = default;
};

struct CreatePartitionsResponse {
    struct TopicResult {
        std::string name;
        int16_t error_code = 0;
        std::optional<std::string> error_message;
        bool operator==(const TopicResult&) const = default;
    };

    int32_t throttle_time_ms = 0;
    std::vector<TopicResult> results;
    bool operator==(const CreatePartitionsResponse&) const = default;
};

// Decoders fail on an unsupported version, truncation, trailing bytes or a
// null where the schema allows none, naming the field, e.g.
// "CreatePartitions v0 request: topics.assignments.broker_ids: ...".
Result<CreatePartitionsRequest, std::string> decode_create_partitions_request(std::string_view body,
                                                                              int16_t version);
Result<CreatePartitionsResponse, std::string> decode_create_partitions_response(std::string_view body,
                                                                                int16_t version);

// Encoders append to `out`; `version` must be in [min, max].
void encode_create_partitions_request(std::string& out, const CreatePartitionsRequest& request,
                                      int16_t version);
void encode_create_partitions_response(std::string& out, const CreatePartitionsResponse& response,
                                       int16_t version);

}  // namespace fjord::kafka
