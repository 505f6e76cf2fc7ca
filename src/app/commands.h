// The sub-commands of the `fjord` executable, each returning main's exit code.
// main.cc parses the command line (CLI11) and calls one of these.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/node_config.h"

namespace fjord::app {

// `fjord serve`: runs one node until SIGINT/SIGTERM.
int run_serve(cluster::NodeConfig config);

// `fjord cluster status --admin HOST:PORT`: nodes and partitions as tables.
int run_cluster_status(const std::string& admin_addr);

// `fjord log append|read --bootstrap HOST:PORT`: the plain replicated log,
// through the Kafka listener of any node (the commands find the leaders).
struct LogTarget {
    std::string bootstrap;  // a Kafka address
    std::string topic;
    int32_t partition{0};
};
int run_log_append(const LogTarget& target, const std::vector<std::string>& values);
int run_log_read(const LogTarget& target, int64_t from, int64_t count);

}  // namespace fjord::app
