// `fjord serve --config FILE`: the serve flags' keys in a TOML file, e.g.
//
//   node-id = 1
//   data-dir = "/var/lib/fjord"
//   initial-cluster = "1=10.0.0.1:9093,2=10.0.0.2:9093,3=10.0.0.3:9093"
//
// Flags given on the command line win over the file.
#pragma once

#include <string>

#include "cluster/node_config.h"
#include "common/result.h"

namespace fjord::app {

// Fills `config` (and the raw `initial_cluster` text) from the file. Unknown
// keys and values of the wrong type are errors naming the key and line.
Result<Ok, std::string> load_config_file(const std::string& path, cluster::NodeConfig& config,
                                         std::string& initial_cluster);

}  // namespace fjord::app
