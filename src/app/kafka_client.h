// A small blocking Kafka client for the command line (`fjord log`), built on
// fjord's own codecs: Metadata to find a partition's leader, Produce with
// acks=all, Fetch and ListOffsets. It follows leadership changes by
// refreshing metadata and retrying for a while, as real clients do.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace fjord::app {

struct FetchedRecord {
    int64_t offset{0};
    int32_t leader_epoch{0};  // the Raft term that committed it
    std::string value;
};

class KafkaClient {
  public:
    // `bootstrap` is any node's Kafka address; retries stop after `patience`.
    KafkaClient(std::string bootstrap, std::chrono::milliseconds patience);
    ~KafkaClient();
    KafkaClient(const KafkaClient&) = delete;
    KafkaClient& operator=(const KafkaClient&) = delete;

    // Appends `value` as one record (acks=all); returns the committed offset.
    // Auto-creates the topic if the cluster does.
    Result<int64_t, std::string> append(const std::string& topic, int32_t partition,
                                        const std::string& value);
    // Committed records from `from` on (or the log start, if it is later),
    // at most `max` of them, up to the high watermark at the time of the call.
    Result<std::vector<FetchedRecord>, std::string> read(const std::string& topic, int32_t partition,
                                                         int64_t from, size_t max);

  private:
    struct Leader {
        std::string address;
        int16_t error{0};
    };
    Result<Leader, std::string> find_leader(const std::string& topic, int32_t partition, bool create);
    // One request/response exchange with `address` (a fresh or cached connection).
    Result<std::string, std::string> call(const std::string& address, int16_t api_key, int16_t version,
                                          const std::string& body);
    void forget(const std::string& address);

    std::string _bootstrap;
    std::chrono::milliseconds _patience;
    int32_t _correlation{0};
    std::map<std::string, int> _sockets;  // address -> connected socket
};

}  // namespace fjord::app
