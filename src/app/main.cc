// The `fjord` executable: parses the command line and runs a sub-command.
// CLI11 is included here only (it costs seconds per translation unit).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <climits>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "app/commands.h"
#include "app/config_file.h"
#include "app/dev_cluster.h"

namespace {

// The file named by `serve --config FILE` (or --config=FILE), if any.
std::optional<std::string> config_file_argument(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--config" && i + 1 < argc) return std::string(argv[i + 1]);
        if (arg.starts_with("--config=")) return std::string(arg.substr(9));
    }
    return std::nullopt;
}

std::string self_executable(const char* argv0) {
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    return n > 0 ? std::string(path, static_cast<size_t>(n)) : std::string(argv0);
}

// CLI11's numeric checks print their range in full; this says it plainly.
CLI::Validator positive_integer() {
    return CLI::Validator(
        [](std::string& value) -> std::string {
            bool digits = !value.empty() && value.find_first_not_of("0123456789") == std::string::npos;
            return digits && value.find_first_not_of('0') != std::string::npos
                       ? std::string()
                       : "'" + value + "' is not a positive integer";
        },
        "POSITIVE");
}

void add_serve(CLI::App& app, fjord::cluster::NodeConfig& c, std::string& initial_cluster) {
    CLI::App* serve = app.add_subcommand("serve", "Run one node in the foreground until SIGINT/SIGTERM");
    // Read before the flags are parsed (see main), so that flags win.
    serve->add_option("--config", "A TOML file with these settings' keys (node-id = 1, ...); flags win");
    serve->add_option("--node-id", c.node_id, "This node's id (positive; also its Kafka broker id)")
        ->check(positive_integer());
    serve->add_option("--data-dir", c.data_dir, "Directory of this node's logs");
    serve->add_option("--rpc-addr", c.rpc_addr,
                      "HOST:PORT for node-to-node traffic (default: from --initial-cluster)");
    serve->add_option("--kafka-addr", c.kafka_addr, "HOST:PORT of the Kafka listener");
    serve->add_option("--advertised-kafka-addr", c.advertised_kafka_addr,
                      "HOST:PORT clients are told to use (default: --kafka-addr)");
    serve->add_option("--redis-addr", c.redis_addr, "HOST:PORT of the Redis listener");
    serve->add_option("--admin-addr", c.admin_addr, "HOST:PORT of the admin HTTP API");
    serve->add_option("--initial-cluster", initial_cluster,
                      "The founding voters, identical on each: ID=HOST:PORT,... (RPC addresses)");
    serve
        ->add_option("--default-replication-factor", c.default_replication_factor,
                     "Replication factor of topics created without one")
        ->capture_default_str();
    serve->add_option("--default-partitions", c.default_partitions, "Partition count of auto-created topics")
        ->capture_default_str();
    serve
        ->add_option(
            "--auto-create-topics", c.auto_create_topics,
            "Create a topic a client names in Metadata or Produce (Kafka's auto.create.topics.enable)")
        ->capture_default_str();
    serve
        ->add_option("--min-insync-replicas", c.min_insync_replicas,
                     "Replicas that must be in sync for acks=all writes")
        ->capture_default_str();
    serve
        ->add_option("--election-timeout-ms", c.election_timeout_ms,
                     "Followers campaign after 1 to 2 times this without a leader")
        ->capture_default_str();
    serve->add_option("--heartbeat-interval-ms", c.heartbeat_interval_ms, "Leader heartbeat interval")
        ->capture_default_str();
    serve
        ->add_option("--replica-lag-time-ms", c.replica_lag_time_ms,
                     "A follower not caught up for this long leaves the ISR")
        ->capture_default_str();
    serve
        ->add_option("--fsync-mode", c.fsync_mode,
                     "file: fdatasync each partition log; filesystem: one syncfs makes a round of every "
                     "log durable (ext4 or xfs, Linux 5.17+; also flushes whatever else is dirty there)")
        ->capture_default_str();
    serve
        ->add_option("--redis-write-mode", c.redis_write_mode,
                     "sync: answer writes after a majority commit; async: after the leader's append")
        ->capture_default_str();
    serve
        ->add_option("--redis-read-mode", c.redis_read_mode,
                     "linearizable (ReadIndex), lease (leader lease) or stale (any replica)")
        ->capture_default_str();
    serve->add_option("--redis-max-value-bytes", c.redis_max_value_bytes, "Largest value a write may store")
        ->capture_default_str();
    serve
        ->add_option("--kv-shards", c.kv_shards,
                     "Key-value shards, created once with the cluster (0: no key-value store)")
        ->capture_default_str();
    serve
        ->add_option("--kv-snapshot-every", c.kv_snapshot_every,
                     "Entries a shard applies between two snapshots (its log is compacted below each)")
        ->capture_default_str();
    serve
        ->add_option("--controller-snapshot-every", c.controller_snapshot_every,
                     "Entries the controller applies between two snapshots of the cluster metadata (its log "
                     "is compacted below each)")
        ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
    // Logs go to stderr, leaving stdout to the commands' output.
    spdlog::set_default_logger(spdlog::stderr_color_mt("fjord"));
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    CLI::App app{"fjord: a replicated log with Kafka and Redis faces"};
    app.require_subcommand(1);
    // One line per error, naming the flag; `--help` lists them all.
    app.failure_message(
        [](const CLI::App*, const CLI::Error& e) { return std::string("fjord: ") + e.what() + "\n"; });

    fjord::cluster::NodeConfig serve_config;
    std::string initial_cluster;
    add_serve(app, serve_config, initial_cluster);

    fjord::app::DevClusterOptions dev;
    dev.data_dir = "data/dev-cluster";
    CLI::App* dev_cluster =
        app.add_subcommand("dev-cluster", "Run N local nodes on 127.0.0.1 (Ctrl-C stops them)");
    dev_cluster->add_option("--nodes", dev.nodes, "Number of nodes")->capture_default_str();
    dev_cluster
        ->add_option("--base-port", dev.base_port, "Kafka port of node 1; node i uses P+10*(i-1) .. +3")
        ->capture_default_str();
    dev_cluster->add_option("--data-dir", dev.data_dir, "Node i keeps its data in DIR/node-i")
        ->capture_default_str();
    dev_cluster->add_option("extra", dev.extra_args, "Further flags for every `fjord serve`, after --");

    std::string admin_addr = "127.0.0.1:9094";
    CLI::App* cluster = app.add_subcommand("cluster", "Inspect the cluster");
    cluster->require_subcommand(1);
    CLI::App* status = cluster->add_subcommand("status", "Nodes and partitions as tables");
    status->add_option("--admin", admin_addr, "Admin HOST:PORT of any node")->capture_default_str();

    fjord::app::LogTarget target{"127.0.0.1:9092", "", 0};
    std::vector<std::string> values;
    int64_t from = 0;
    int64_t count = -1;
    CLI::App* log = app.add_subcommand("log", "The plain replicated log");
    log->require_subcommand(1);
    CLI::App* append =
        log->add_subcommand("append", "Append values; prints the offset each was committed at");
    CLI::App* read = log->add_subcommand("read", "Print committed entries: offset, term, value");
    for (CLI::App* sub : {append, read}) {
        sub->add_option("--bootstrap", target.bootstrap, "Kafka HOST:PORT of any node")
            ->capture_default_str();
        sub->add_option("--topic", target.topic, "Topic")->required();
        sub->add_option("--partition", target.partition, "Partition")->capture_default_str();
    }
    append->add_option("values", values, "Values to append")->required();
    read->add_option("--from", from, "First offset")->capture_default_str();
    read->add_option("--count", count, "At most this many entries (-1: all committed)")
        ->capture_default_str();

    if (argc > 1 && std::string_view(argv[1]) == "serve") {
        if (auto path = config_file_argument(argc, argv)) {
            if (auto loaded = fjord::app::load_config_file(*path, serve_config, initial_cluster); !loaded) {
                std::fprintf(stderr, "fjord serve: %s\n", loaded.error().c_str());
                return 2;
            }
        }
    }
    CLI11_PARSE(app, argc, argv);

    if (app.got_subcommand("serve")) {
        if (!initial_cluster.empty()) {  // else validate() reports it missing
            auto members = fjord::cluster::parse_initial_cluster(initial_cluster);
            if (!members) {
                std::fprintf(stderr, "fjord serve: %s\n", members.error().c_str());
                return 2;
            }
            serve_config.initial_cluster = std::move(*members);
        }
        return fjord::app::run_serve(serve_config);
    }
    if (app.got_subcommand("dev-cluster")) {
        dev.fjord_binary = self_executable(argv[0]);
        return fjord::app::run_dev_cluster(dev);
    }
    if (cluster->got_subcommand("status")) return fjord::app::run_cluster_status(admin_addr);
    if (append->parsed()) return fjord::app::run_log_append(target, values);
    return fjord::app::run_log_read(target, from, count);
}
