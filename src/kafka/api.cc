#include "kafka/api.h"

#include <algorithm>
#include <array>

namespace fjord::kafka {

namespace {

// Exactly what is parsed. Produce starts at 3 (record batch v2): librdkafka
// 2.0.2 then sends gzip/snappy/lz4 batches uncompressed (it checks Produce v0
// before compressing them; zstd still works), which fjord stores as they come.
constexpr std::array<ApiRange, 12> kApis{{
    {ApiKey::produce, 3, 7},
    {ApiKey::fetch, 4, 11},
    {ApiKey::list_offsets, 1, 3},
    {ApiKey::metadata, 0, 7},
    {ApiKey::api_versions, 0, 2},
    {ApiKey::create_topics, 2, 4},
    {ApiKey::delete_topics, 0, 1},
    {ApiKey::offset_for_leader_epoch, 0, 3},
    {ApiKey::describe_configs, 1, 2},
    {ApiKey::alter_configs, 0, 1},
    {ApiKey::create_partitions, 0, 1},
    {ApiKey::incremental_alter_configs, 0, 0},
}};

}  // namespace

std::span<const ApiRange> supported_apis() {
    return kApis;
}

bool supported(int16_t key, int16_t version) {
    return std::any_of(kApis.begin(), kApis.end(), [&](const ApiRange& r) {
        return static_cast<int16_t>(r.key) == key && version >= r.min && version <= r.max;
    });
}

std::string_view name_of(int16_t key) {
    switch (static_cast<ApiKey>(key)) {
        case ApiKey::produce:
            return "Produce";
        case ApiKey::fetch:
            return "Fetch";
        case ApiKey::list_offsets:
            return "ListOffsets";
        case ApiKey::metadata:
            return "Metadata";
        case ApiKey::api_versions:
            return "ApiVersions";
        case ApiKey::create_topics:
            return "CreateTopics";
        case ApiKey::delete_topics:
            return "DeleteTopics";
        case ApiKey::offset_for_leader_epoch:
            return "OffsetForLeaderEpoch";
        case ApiKey::describe_configs:
            return "DescribeConfigs";
        case ApiKey::alter_configs:
            return "AlterConfigs";
        case ApiKey::create_partitions:
            return "CreatePartitions";
        case ApiKey::incremental_alter_configs:
            return "IncrementalAlterConfigs";
    }
    return "unknown API";
}

}  // namespace fjord::kafka
