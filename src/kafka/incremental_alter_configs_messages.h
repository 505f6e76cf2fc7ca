// IncrementalAlterConfigs (API key 44), classic version 0: the request and
// response bodies (what follows the request/response header) as structs, and
// their codecs in both directions. The broker decodes requests and encodes
// responses; the request encoder and response decoder serve tests and tools.
//
// Unlike AlterConfigs, each config names an operation on the current value.
// resource_type is numbered as ConfigResourceType in
// describe_configs_messages.h. v1 is flexible and not supported.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "kafka/alter_configs_messages.h"

namespace fjord::kafka {

inline constexpr int16_t kIncrementalAlterConfigsMinVersion = 0;
inline constexpr int16_t kIncrementalAlterConfigsMaxVersion = 0;

// config_operation's values. Append and subtract apply to list-valued configs.
enum class ConfigOperation : int8_t {
    set = 0,
    remove = 1,  // Kafka's DELETE
    append = 2,
    subtract = 3,
};

struct IncrementalAlterConfigsRequest {
    struct Config {
        std::string name;
        // A ConfigOperation; the codec carries any value for the broker to judge.
        int8_t config_operation = 0;
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
    bool operator==(const IncrementalAlterConfigsRequest&) const = default;
};

// The same layout as AlterConfigs' response.
using IncrementalAlterConfigsResponse = AlterConfigsResponse;

// Decoders fail on an unsupported version, truncation, trailing bytes or a
// null where the schema allows none, naming the field, e.g.
// "IncrementalAlterConfigs v0 request: resources.configs.config_operation: ...".
Result<IncrementalAlterConfigsRequest, std::string> decode_incremental_alter_configs_request(
    std::string_view body, int16_t version);
Result<IncrementalAlterConfigsResponse, std::string> decode_incremental_alter_configs_response(
    std::string_view body, int16_t version);

// Encoders append to `out`; `version` must be in [min, max].
void encode_incremental_alter_configs_request(std::string& out, const IncrementalAlterConfigsRequest& request,
                                              int16_t version);
void encode_incremental_alter_configs_response(std::string& out,
                                               const IncrementalAlterConfigsResponse& response,
                                               int16_t version);

}  // namespace fjord::kafka
