// The Kafka request handlers of a node: they map each Kafka API onto the
// node's partitions (cluster/cluster_node.h). See docs/kafka.md for what is
// supported and how acks, the ISR and errors map onto Raft.
#pragma once

#include <memory>

#include "kafka/kafka_server.h"

namespace fjord::cluster {
class ClusterNode;
}

namespace fjord::kafka {

class BrokerState;

class Broker {
  public:
    Broker(boost::asio::io_context& io, cluster::ClusterNode& node);
    ~Broker();
    Broker(const Broker&) = delete;
    Broker& operator=(const Broker&) = delete;

    // The RequestHandler of the node's KafkaServer.
    void handle(const RequestHeader& header, std::string_view body, std::function<void(Response)> done);

  private:
    std::shared_ptr<BrokerState> _state;
};

}  // namespace fjord::kafka
