// DescribeConfigs (API key 32), classic versions 1-2: the request and
// response bodies (what follows the request/response header) as structs, and
// their codecs in both directions. The broker decodes requests and encodes
// responses; the request encoder and response decoder serve tests and tools.
//
// v1 and v2 share one layout (v2 only changed quota behaviour). v0, with its
// is_default flag and no synonyms, is not supported. Also home to the
// numbering of config resource types and sources, which AlterConfigs and
// IncrementalAlterConfigs share.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::kafka {

inline constexpr int16_t kDescribeConfigsMinVersion = 1;
inline constexpr int16_t kDescribeConfigsMaxVersion = 2;

// Kafka's ConfigResource.Type ids, as resource_type carries them.
enum class ConfigResourceType : int8_t {
    unknown = 0,
    topic = 2,
    broker = 4,
    broker_logger = 8,
};

// Where a config's value comes from (DescribeConfigs config_source).
enum class ConfigSource : int8_t {
    unknown = 0,
    dynamic_topic = 1,
    dynamic_broker = 2,
    dynamic_default_broker = 3,
    static_broker = 4,
    default_config = 5,
    dynamic_broker_logger = 6,
};

struct DescribeConfigsRequest {
    struct Resource {
        int8_t resource_type = 0;  // a ConfigResourceType
        std::string resource_name;
        // The keys to describe, or null for all.
        std::optional<std::vector<std::string>> configuration_keys;
        bool operator==(const Resource&) const = default;
    };

    std::vector<Resource> resources;
    bool include_synonyms = false;
    bool operator==(const DescribeConfigsRequest&) const = default;
};

struct DescribeConfigsResponse {
    struct Synonym {
        std::string name;
        std::optional<std::string> value;
        int8_t source = 0;  // a ConfigSource
        bool operator==(const Synonym&) const = default;
    };
    struct Config {
        std::string name;
        std::optional<std::string> value;
        bool read_only = false;
        int8_t config_source = -1;  // a ConfigSource
        bool is_sensitive = false;
        std::vector<Synonym> synonyms;
        bool operator==(const Config&) const = default;
    };
    struct ResourceResult {
        int16_t error_code = 0;
        std::optional<std::string> error_message;
        int8_t resource_type = 0;
        std::string resource_name;
        std::vector<Config> configs;
        bool operator==(const ResourceResult&) const = default;
    };

    int32_t throttle_time_ms = 0;
    std::vector<ResourceResult> results;
    bool operator==(const DescribeConfigsResponse&) const = default;
};

// Decoders fail on an unsupported version, truncation, trailing bytes or a
// null where the schema allows none, naming the field, e.g.
// "DescribeConfigs v1 response: results.configs.synonyms.source: ...".
Result<DescribeConfigsRequest, std::string> decode_describe_configs_request(std::string_view body,
                                                                            int16_t version);
Result<DescribeConfigsResponse, std::string> decode_describe_configs_response(std::string_view body,
                                                                              int16_t version);

// Encoders append to `out`; `version` must be in [min, max].
void encode_describe_configs_request(std::string& out, const DescribeConfigsRequest& request,
                                     int16_t version);
void encode_describe_configs_response(std::string& out, const DescribeConfigsResponse& response,
                                      int16_t version);

}  // namespace fjord::kafka
