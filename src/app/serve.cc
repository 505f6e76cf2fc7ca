// `fjord serve`: one node on one event loop, until SIGINT or SIGTERM. On a
// signal the node first hands its leaderships to in-sync replicas.
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "admin/admin_api.h"
#include "admin/http_server.h"
#include "app/commands.h"
#include "cluster/cluster_node.h"
#include "common/host_port.h"
#include "kafka/broker.h"
#include "kafka/kafka_server.h"
#include "kv/kv_service.h"
#include "kv/redis_server.h"

namespace fjord::app {

namespace {

constexpr int kHandOverTimeoutMs = 5000;

}  // namespace

int run_serve(cluster::NodeConfig config) {
    if (auto valid = cluster::validate(config); !valid) {
        spdlog::error("fjord serve: {}", valid.error());
        return 2;
    }
    boost::asio::io_context io;
    cluster::ClusterNode node(io, config);
    kv::KvOptions kv_options;
    kv_options.write_mode = config.redis_write_mode == "async" ? kv::WriteMode::async : kv::WriteMode::sync;
    kv_options.read_mode = config.redis_read_mode == "lease"   ? kv::ReadMode::lease
                           : config.redis_read_mode == "stale" ? kv::ReadMode::stale
                                                               : kv::ReadMode::linearizable;
    kv_options.limits.max_value_bytes = static_cast<size_t>(config.redis_max_value_bytes);
    kv::KvService kv_service(io, node, kv_options);
    kv_service.start();  // before the node opens the shards' replicas
    if (auto started = node.start(); !started) {
        spdlog::error("fjord serve: {}", started.error());
        return 1;
    }
    admin::HttpServer admin(io, admin::make_admin_handler(node));
    auto [admin_host, admin_port] = split_host_port(config.admin_addr);
    if (auto bound = admin.listen(admin_host, admin_port); !bound) {
        spdlog::error("fjord serve: {}", bound.error());
        return 1;
    }
    spdlog::info("node {}: admin API on http://{}", config.node_id, config.admin_addr);
    kafka::Broker broker(io, node);
    kafka::KafkaServer kafka_server(io, [&broker](const kafka::RequestHeader& h, std::string_view body,
                                                  std::function<void(kafka::Response)> done) {
        broker.handle(h, body, std::move(done));
    });
    auto [kafka_host, kafka_port] = split_host_port(config.kafka_addr);
    if (auto bound = kafka_server.listen(kafka_host, kafka_port); !bound) {
        spdlog::error("fjord serve: {}", bound.error());
        return 1;
    }
    spdlog::info("node {}: Kafka listener on {} (advertised as {})", config.node_id, config.kafka_addr,
                 config.advertised_kafka_addr);
    kv::RedisServer redis_server(io, kv_service);
    auto [redis_host, redis_port] = split_host_port(config.redis_addr);
    if (auto bound = redis_server.listen(redis_host, redis_port); !bound) {
        spdlog::error("fjord serve: {}", bound.error());
        return 1;
    }
    spdlog::info("node {}: Redis listener on {} ({} writes, {} reads)", config.node_id, config.redis_addr,
                 config.redis_write_mode, config.redis_read_mode);

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    bool stopping = false;
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int signal) {
            if (ec) return;
            if (stopping) {
                spdlog::warn("node {}: second signal, exiting at once", config.node_id);
                io.stop();
                return;
            }
            stopping = true;
            spdlog::info("node {}: signal {}, shutting down", config.node_id, signal);
            signals.async_wait(on_signal);
            node.shutdown(kHandOverTimeoutMs, [&] {
                kafka_server.stop();
                redis_server.stop();
                kv_service.stop();
                admin.stop();
                io.stop();
            });
        };
    signals.async_wait(on_signal);
    io.run();
    spdlog::info("node {}: stopped", config.node_id);
    return 0;
}

}  // namespace fjord::app
