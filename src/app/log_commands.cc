// `fjord log append|read`: the plain replicated log from a shell, through the
// Kafka protocol of any node (the client finds each partition's leader).
#include <chrono>
#include <iostream>

#include "app/commands.h"
#include "app/kafka_client.h"

namespace fjord::app {

namespace {

constexpr std::chrono::seconds kPatience{15};  // to ride out an election or a topic's creation

int fail(const std::string& what) {
    std::cerr << "fjord: " << what << "\n";
    return 1;
}

}  // namespace

int run_log_append(const LogTarget& target, const std::vector<std::string>& values) {
    KafkaClient client(target.bootstrap, kPatience);
    for (const std::string& value : values) {
        auto offset = client.append(target.topic, target.partition, value);
        if (!offset) return fail("append to " + target.topic + " failed: " + offset.error());
        std::cout << *offset << "\n" << std::flush;
    }
    return 0;
}

int run_log_read(const LogTarget& target, int64_t from, int64_t count) {
    KafkaClient client(target.bootstrap, kPatience);
    size_t max = count < 0 ? SIZE_MAX : static_cast<size_t>(count);
    auto records = client.read(target.topic, target.partition, from, max);
    if (!records) return fail("read from " + target.topic + " failed: " + records.error());
    for (const FetchedRecord& r : *records)
        std::cout << r.offset << " " << r.leader_epoch << " " << r.value << "\n";
    std::cout << std::flush;
    return 0;
}

}  // namespace fjord::app
