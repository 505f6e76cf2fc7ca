// The broker's internals, shared by the handler files (broker_*.cc): the
// node it serves, its defaults, and the fetches waiting for data. Private to
// src/kafka/.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <string>

#include "cluster/cluster_node.h"
#include "kafka/api.h"
#include "kafka/kafka_server.h"

namespace boost::asio {
class io_context;
}

namespace fjord::kafka {

// Kafka's default max.message.bytes.
inline constexpr int64_t kDefaultMaxMessageBytes = 1048588;

class BrokerState : public std::enable_shared_from_this<BrokerState> {
  public:
    BrokerState(boost::asio::io_context& loop, cluster::ClusterNode& cluster_node)
        : io(loop), node(cluster_node) {}

    using Done = std::function<void(Response)>;
    void api_versions(const RequestHeader& h, std::string_view body, Done done);
    void metadata(const RequestHeader& h, std::string_view body, Done done);
    void produce(const RequestHeader& h, std::string_view body, Done done);
    void fetch(const RequestHeader& h, std::string_view body, Done done);
    void list_offsets(const RequestHeader& h, std::string_view body, Done done);
    void offset_for_leader_epoch(const RequestHeader& h, std::string_view body, Done done);
    void create_topics(const RequestHeader& h, std::string_view body, Done done);
    void delete_topics(const RequestHeader& h, std::string_view body, Done done);
    void create_partitions(const RequestHeader& h, std::string_view body, Done done);
    void describe_configs(const RequestHeader& h, std::string_view body, Done done);
    void alter_configs(const RequestHeader& h, std::string_view body, Done done);
    void incremental_alter_configs(const RequestHeader& h, std::string_view body, Done done);

    // A group's high watermark moved: re-check the fetches waiting on it.
    void on_applied(uint64_t group);

    // The admin APIs' common path: on the controller's leader, checks the
    // command (validate_only) or commits it; elsewhere NOT_CONTROLLER. Then
    // `settle` gets the Kafka error code and a message.
    using Settle = std::function<void(ErrorCode, std::string)>;
    void change_metadata(const cluster::MetadataCommand& command, bool validate_only, Settle settle);

    // A topic config, or the node's default for it.
    int64_t topic_number(const std::string& topic, const std::string& key, int64_t fallback) const;
    ErrorCode error_of(const cluster::ClusterError& e) const;

    boost::asio::io_context& io;
    cluster::ClusterNode& node;
    // Long-polling fetches; each returns true when it answered.
    std::list<std::function<bool(uint64_t group)>> waiting_fetches;
};

}  // namespace fjord::kafka
