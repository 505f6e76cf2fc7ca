// `fjord dev-cluster`: runs N `fjord serve` children on 127.0.0.1 and supervises them.
#pragma once

#include <string>
#include <vector>

namespace fjord::app {

struct DevClusterOptions {
    std::string fjord_binary;  // path of the fjord executable (the caller resolves /proc/self/exe)
    int nodes{3};
    int base_port{9092};
    std::string data_dir;                 // node i uses data_dir + "/node-" + i
    std::vector<std::string> extra_args;  // appended to every child's command line
};

// Node i (1-based) listens on kafka P+10*(i-1), rpc +1, admin +2, redis +3, where P = base_port.
// Each child's stdout and stderr are copied line by line to our stdout, prefixed with "[node i] ".
//
// Runs until SIGINT/SIGTERM (forwarded to the children as SIGTERM; stragglers get SIGKILL after
// 10 s) or until every child has exited. Returns the exit code for
// main: 0 after a requested stop, 1 when every child exited on its own or a child could not be
// started, 2 for invalid options. Installs handlers for SIGINT, SIGTERM and SIGCHLD while it runs
// and restores the previous ones before returning. Call it from the main thread: the children get
// PR_SET_PDEATHSIG, which fires when the thread that forked them ends.
int run_dev_cluster(const DevClusterOptions& options);

}  // namespace fjord::app
