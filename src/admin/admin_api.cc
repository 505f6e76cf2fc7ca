#include "admin/admin_api.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "cluster/cluster_node.h"

namespace fjord::admin {

using cluster::ClusterErrc;
using cluster::ClusterError;
using cluster::ClusterNode;
using nlohmann::json;

namespace {

constexpr size_t kMaxReadCount = 10000;

HttpResponse json_response(int status, const json& body) {
    // Values are client bytes: replace invalid UTF-8 rather than throw.
    return HttpResponse{status, "application/json",
                        body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"};
}

HttpResponse error_response(int status, std::string_view code, const std::string& message) {
    return json_response(status, json{{"error", code}, {"message", message}});
}

int status_of(ClusterErrc code) {
    switch (code) {
        case ClusterErrc::not_leader:
        case ClusterErrc::not_controller:
            return 421;
        case ClusterErrc::unknown_topic:
        case ClusterErrc::unknown_partition:
            return 404;
        case ClusterErrc::already_exists:
            return 409;
        case ClusterErrc::invalid:
            return 400;
        case ClusterErrc::busy:
            return 503;
        case ClusterErrc::timeout:
            return 504;
        case ClusterErrc::failed:
            return 500;
    }
    return 500;
}

std::string_view name_of(ClusterErrc code) {
    switch (code) {
        case ClusterErrc::not_leader:
            return "not_leader";
        case ClusterErrc::not_controller:
            return "not_controller";
        case ClusterErrc::unknown_topic:
            return "unknown_topic";
        case ClusterErrc::unknown_partition:
            return "unknown_partition";
        case ClusterErrc::already_exists:
            return "already_exists";
        case ClusterErrc::invalid:
            return "invalid";
        case ClusterErrc::busy:
            return "busy";
        case ClusterErrc::timeout:
            return "timeout";
        case ClusterErrc::failed:
            return "failed";
    }
    return "failed";
}

// An error, with where to go instead when another node should be asked.
HttpResponse cluster_error(const ClusterNode& node, const ClusterError& e) {
    json body{{"error", name_of(e.code)}, {"message", e.detail}};
    if (e.code == ClusterErrc::not_leader || e.code == ClusterErrc::not_controller) {
        body["leader"] = e.leader == 0 ? json(-1) : json(e.leader);
        if (auto leader = node.node(e.leader); leader && e.leader != 0)
            body["leader_admin_addr"] = leader->info.admin_addr;
    }
    return json_response(status_of(e.code), body);
}

template <typename T>
bool parse_number(std::string_view text, T& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> parts;
    while (!path.empty()) {
        if (path.front() == '/') {
            path.remove_prefix(1);
            continue;
        }
        size_t slash = path.find('/');
        parts.push_back(path.substr(0, slash));
        path.remove_prefix(slash == std::string_view::npos ? path.size() : slash);
    }
    return parts;
}

json node_json(const cluster::NodeView& n) {
    return json{{"id", n.info.id},
                {"rpc_addr", n.info.rpc_addr},
                {"kafka_addr", n.info.kafka_addr},
                {"redis_addr", n.info.redis_addr},
                {"admin_addr", n.info.admin_addr},
                {"alive", n.alive},
                {"serving", n.alive && n.not_serving_reason.empty()},
                {"reason", n.not_serving_reason}};
}

json partition_json(const cluster::PartitionView& p) {
    json replicas = json::array();
    for (const cluster::ReplicaView& r : p.replica_status)
        replicas.push_back({{"node", r.node}, {"match", r.match}, {"lag", r.lag}, {"in_sync", r.in_sync}});
    return json{{"topic", p.topic},
                {"partition", p.partition},
                {"group", p.group},
                {"leader", p.leader},
                {"term", p.term},
                {"replicas", p.replicas},
                {"isr", p.isr},
                {"high_watermark", p.high_watermark},
                {"replica_status", replicas}};
}

class AdminApi {
  public:
    explicit AdminApi(ClusterNode& node) : _node(node) {}

    void handle(HttpRequest request, Respond respond) {
        auto parts = split_path(request.path);
        const std::string& m = request.method;
        if (m == "GET" && parts.size() == 1 && parts[0] == "health") return respond(health());
        if (m == "GET" && parts.size() == 1 && parts[0] == "metrics")
            return respond({200, "text/plain; version=0.0.4", _node.metrics_text()});
        if (m == "GET" && parts.size() == 2 && parts[0] == "cluster") {
            if (parts[1] == "status") return respond(status());
            if (parts[1] == "nodes") return respond(nodes());
            if (parts[1] == "partitions") return respond(partitions());
        }
        if (m == "POST" && parts.size() == 5 && parts[0] == "cluster" && parts[1] == "partitions" &&
            parts[4] == "transfer-leadership")
            return transfer(std::string(parts[2]), parts[3], request, std::move(respond));
        if (parts.size() >= 1 && parts[0] == "topics") return topics(parts, request, std::move(respond));
        respond(error_response(404, "not_found", "no such endpoint: " + m + " " + request.path));
    }

  private:
    HttpResponse health() const {
        if (auto reason = _node.not_serving_reason())
            return json_response(503,
                                 json{{"status", "unavailable"}, {"node", _node.id()}, {"reason", *reason}});
        return json_response(200, json{{"status", "ok"}, {"node", _node.id()}});
    }

    HttpResponse status() const {
        json nodes = json::array();
        for (const cluster::NodeView& n : _node.nodes()) nodes.push_back(node_json(n));
        size_t leaderless = 0, under_replicated = 0;
        auto partitions = _node.partitions();
        for (const cluster::PartitionView& p : partitions) {
            if (p.leader < 0) ++leaderless;
            if (p.isr.size() < p.replicas.size()) ++under_replicated;
        }
        uint64_t leader = _node.controller_leader();
        return json_response(200, json{{"node", _node.id()},
                                       {"controller_leader", leader == 0 ? json(-1) : json(leader)},
                                       {"nodes", nodes},
                                       {"partitions", partitions.size()},
                                       {"leaderless_partitions", leaderless},
                                       {"under_replicated_partitions", under_replicated}});
    }

    HttpResponse nodes() const {
        json out = json::array();
        for (const cluster::NodeView& n : _node.nodes()) out.push_back(node_json(n));
        return json_response(200, out);
    }

    HttpResponse partitions() const {
        json out = json::array();
        for (const cluster::PartitionView& p : _node.partitions()) out.push_back(partition_json(p));
        return json_response(200, out);
    }

    void transfer(std::string topic, std::string_view partition_text, const HttpRequest& request,
                  Respond respond) {
        int32_t partition = 0;
        uint64_t to = 0;
        auto it = request.query.find("to");
        if (!parse_number(partition_text, partition) || it == request.query.end() ||
            !parse_number(it->second, to))
            return respond(error_response(400, "invalid",
                                          "expected /cluster/partitions/{topic}/{partition}/"
                                          "transfer-leadership?to={node id}"));
        _node.transfer_leadership(
            topic, partition, to, [this, topic, partition, to, respond](cluster::ClusterResult<Ok> r) {
                if (!r) return respond(cluster_error(_node, r.error()));
                respond(json_response(200, json{{"topic", topic}, {"partition", partition}, {"leader", to}}));
            });
    }

    void topics(const std::vector<std::string_view>& parts, const HttpRequest& request, Respond respond) {
        const std::string& m = request.method;
        if (m == "POST" && parts.size() == 1) return create_topic(request, std::move(respond));
        if (m == "GET" && parts.size() == 2) {
            const cluster::TopicInfo* topic = _node.metadata().topic(parts[1]);
            if (!topic)
                return respond(error_response(404, "unknown_topic",
                                              "topic '" + std::string(parts[1]) + "' does not exist"));
            json partitions = json::array();
            for (const cluster::PartitionInfo& p : topic->partitions)
                partitions.push_back(
                    {{"partition", p.partition}, {"group", p.group}, {"replicas", p.replicas}});
            return respond(json_response(200, json{{"name", topic->name},
                                                   {"replication_factor", topic->replication_factor},
                                                   {"configs", topic->configs},
                                                   {"partitions", partitions}}));
        }
        int32_t partition = 0;
        if (parts.size() == 5 && parts[2] == "partitions" && parts[4] == "records" &&
            parse_number(parts[3], partition)) {
            std::string topic(parts[1]);
            if (m == "POST") return append(topic, partition, request, std::move(respond));
            if (m == "GET") return respond(read(topic, partition, request));
        }
        respond(error_response(404, "not_found", "no such endpoint: " + m + " " + request.path));
    }

    void create_topic(const HttpRequest& request, Respond respond) {
        json body = json::parse(request.body, nullptr, false);
        cluster::CreateTopic create;
        if (body.is_discarded() || !body.is_object() || !body.contains("name") || !body["name"].is_string())
            return respond(error_response(400, "invalid", "expected a JSON object with at least \"name\""));
        create.name = body["name"].get<std::string>();
        create.partitions = body.value("partitions", 0);
        create.replication_factor = body.value("replication_factor", 0);  // 0: the cluster's default
        if (body.contains("configs") && body["configs"].is_object()) {
            for (auto& [key, value] : body["configs"].items()) {
                if (!value.is_string())
                    return respond(error_response(400, "invalid", "config " + key + " must be a string"));
                create.configs[key] = value.get<std::string>();
            }
        }
        _node.create_topic(create, [this, name = create.name, respond](cluster::ClusterResult<Ok> r) {
            if (!r) return respond(cluster_error(_node, r.error()));
            respond(json_response(201, json{{"name", name}}));
        });
    }

    void append(const std::string& topic, int32_t partition, const HttpRequest& request, Respond respond) {
        json body = json::parse(request.body, nullptr, false);
        if (body.is_discarded() || !body.is_object() || !body.contains("values") ||
            !body["values"].is_array())
            return respond(error_response(400, "invalid", "expected {\"values\": [\"...\", ...]}"));
        std::vector<std::string> values;
        for (const json& v : body["values"]) {
            if (!v.is_string())
                return respond(error_response(400, "invalid", "every value must be a string"));
            values.push_back(v.get<std::string>());
        }
        _node.append(topic, partition, std::move(values),
                     [this, respond](cluster::ClusterResult<cluster::Appended> r) {
                         if (!r) return respond(cluster_error(_node, r.error()));
                         respond(json_response(200, json{{"base_offset", r->base_offset},
                                                         {"last_offset", r->last_offset},
                                                         {"term", r->term}}));
                     });
    }

    HttpResponse read(const std::string& topic, int32_t partition, const HttpRequest& request) {
        int64_t from = 0;
        size_t count = 100;
        if (auto it = request.query.find("from");
            it != request.query.end() && !parse_number(it->second, from))
            return error_response(400, "invalid", "from must be an offset");
        if (auto it = request.query.find("count");
            it != request.query.end() && !parse_number(it->second, count))
            return error_response(400, "invalid", "count must be a number");
        auto records = _node.read(topic, partition, from, std::min(count, kMaxReadCount));
        if (!records) return cluster_error(_node, records.error());
        json out = json::array();
        for (const cluster::RecordView& r : *records)
            out.push_back({{"offset", r.offset}, {"term", r.term}, {"key", r.key}, {"value", r.value}});
        auto view = _node.partition(topic, partition);
        return json_response(200,
                             json{{"high_watermark", view ? view->high_watermark : 0}, {"records", out}});
    }

    ClusterNode& _node;
};

}  // namespace

HttpHandler make_admin_handler(ClusterNode& node) {
    auto api = std::make_shared<AdminApi>(node);
    return
        [api](HttpRequest request, Respond respond) { api->handle(std::move(request), std::move(respond)); };
}

}  // namespace fjord::admin
