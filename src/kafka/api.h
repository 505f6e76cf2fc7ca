// The Kafka APIs fjord serves and the versions it advertises in ApiVersions.
// Only classic (non-flexible) versions: every client fjord supports has a
// fallback to them (see docs/kafka.md). A request for any other API or
// version cannot be parsed, and the connection is closed, as Kafka does;
// ApiVersions alone answers an unsupported version with UNSUPPORTED_VERSION.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace fjord::kafka {

enum class ApiKey : int16_t {
    produce = 0,
    fetch = 1,
    list_offsets = 2,
    metadata = 3,
    api_versions = 18,
    create_topics = 19,
    delete_topics = 20,
    offset_for_leader_epoch = 23,
    describe_configs = 32,
    alter_configs = 33,
    create_partitions = 37,
    incremental_alter_configs = 44,
};

struct ApiRange {
    ApiKey key;
    int16_t min;
    int16_t max;
};

// What ApiVersions advertises, ordered by key.
std::span<const ApiRange> supported_apis();
// Whether `version` of `key` is one fjord parses.
bool supported(int16_t key, int16_t version);
std::string_view name_of(int16_t key);

// Error codes fjord sends (Kafka's numbering).
enum class ErrorCode : int16_t {
    none = 0,
    offset_out_of_range = 1,
    corrupt_message = 2,
    unknown_topic_or_partition = 3,
    leader_not_available = 5,
    not_leader_or_follower = 6,
    request_timed_out = 7,
    message_too_large = 10,
    invalid_topic = 17,
    not_enough_replicas = 19,
    invalid_required_acks = 21,
    unsupported_version = 35,
    topic_already_exists = 36,
    invalid_partitions = 37,
    invalid_replication_factor = 38,
    invalid_request = 42,
    invalid_config = 40,
    not_controller = 41,
    kafka_storage_error = 56,
    unknown_leader_epoch = 74,
    unsupported_compression_type = 76,
    invalid_record = 87,
    unknown_server_error = -1,
};

}  // namespace fjord::kafka
