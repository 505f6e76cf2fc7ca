// AlterConfigs (API key 33), classic versions 0-1: the request and response
// bodies (what follows the request/response header) as structs, and their
// codecs in both directions. The broker decodes requests and encodes
// responses; the request encoder and response decoder serve tests and tools.
//
// v0 and v1 share one layout (v1 only changed quota behaviour). AlterConfigs
// replaces a resource's whole dynamic config; resource_type is numbered as
// ConfigResourceType in describe_configs_messages.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::kafka {

inline constexpr int16_t kAlterConfigsMinVersion = 0;
inline constexpr int16_t kAlterConfigsMaxVersion = 1;

struct AlterConfigsRequest {
    struct Config {
        std::string name;
        std::optional<std::string> value;
        bool operator==(const Config&) const = default;
    };
    struct Resource {
        int8_t resource_type = 0;
        std::string resource_name;
        std::vector<Config> configs;
        bool operator==(const Resource&) const = default;
    };

    std::vector<Resource> resources;
    bool validate_only = false;
    bool operator==(const AlterConfigsRequest&) const = default;
};

// IncrementalAlterConfigs v0 answers with this same layout, under the name
// IncrementalAlterConfigsResponse.
struct AlterConfigsResponse {
    struct ResourceResult {
        int16_t error_code = 0;
        std::optional<std::string> error_message;
        int8_t resource_type = 0;
        std::string resource_name;
        bool operator==(const ResourceResult&) const = default;
    };

    int32_t throttle_time_ms = 0;
    std::vector<ResourceResult> responses;
    bool operator==(const AlterConfigsResponse&) const = default;
};

// Decoders fail on an unsupported version, truncation, trailing bytes or a
// null where the schema allows none, naming the field, e.g. "AlterConfigs v0
// request: resources.configs.name: needs 7 bytes, 3 left".
Result<AlterConfigsRequest, std::string> decode_alter_configs_request(std::string_view body, int16_t version);
Result<AlterConfigsResponse, std::string> decode_alter_configs_response(std::string_view body,
                                                                        int16_t version);

// Encoders append to `out`; `version` must be in [min, max].
void encode_alter_configs_request(std::string& out, const AlterConfigsRequest& request, int16_t version);
void encode_alter_configs_response(std::string& out, const AlterConfigsResponse& response, int16_t version);

struct VersionedCodec;

namespace detail {
// The response codec AlterConfigs and IncrementalAlterConfigs share; `codec`
// holds the calling API's name and versions.
Result<AlterConfigsResponse, std::string> decode_config_results(std::string_view body, int16_t version,
                                                                const VersionedCodec& codec);
void encode_config_results(std::string& out, const AlterConfigsResponse& response, int16_t version,
                           const VersionedCodec& codec);
}  // namespace detail

}  // namespace fjord::kafka
