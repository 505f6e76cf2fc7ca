// The client sub-commands: `fjord cluster status` and `fjord log append|read`.
// They speak the admin API (admin/admin_api.h) of the node given, and follow
// its "ask that node instead" answers (421) to the leader.
#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "admin/http_client.h"
#include "app/commands.h"

namespace fjord::app {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr auto kRequestTimeout = 10s;
constexpr auto kRetryFor = 15s;
constexpr auto kRetryPause = 100ms;

struct Reply {
    int status{0};
    json body;
};

Result<Reply, std::string> call(const std::string& method, const std::string& address, const std::string& target,
                                const std::string& body = "") {
    auto response = admin::http_request(method, address, target, body, kRequestTimeout);
    if (!response) return make_unexpected(response.error());
    json parsed = json::parse(response->body, nullptr, false);
    if (parsed.is_discarded())
        return make_unexpected(fmt::format("{} answered {} {} with a body that is not JSON", address, method, target));
    return Reply{response->status, std::move(parsed)};
}

std::string message_of(const Reply& r) {
    return r.body.is_object() && r.body.contains("message") ? r.body["message"].get<std::string>()
                                                            : fmt::format("HTTP {}", r.status);
}

// Sends a request that only some node (a leader) can serve, starting at
// `address` and following 421 answers; retries while the cluster has no
// leader for it (elections take a moment).
Result<Reply, std::string> call_leader(const std::string& method, std::string address, const std::string& target,
                                       const std::string& body) {
    auto deadline = std::chrono::steady_clock::now() + kRetryFor;
    std::string bootstrap = address;
    std::string last_error;
    while (std::chrono::steady_clock::now() < deadline) {
        auto reply = call(method, address, target, body);
        if (!reply) {
            last_error = reply.error();
            address = bootstrap;
        } else if (reply->status == 421 || reply->status == 503) {
            last_error = message_of(*reply);
            const json& b = reply->body;
            address = b.contains("leader_admin_addr") && !b["leader_admin_addr"].get<std::string>().empty()
                          ? b["leader_admin_addr"].get<std::string>()
                          : bootstrap;
        } else {
            return reply;
        }
        std::this_thread::sleep_for(kRetryPause);  // pacing between attempts, not synchronisation
    }
    return make_unexpected(fmt::format("gave up after {} s: {}", kRetryFor.count(), last_error));
}

std::string records_target(const LogTarget& t) {
    return fmt::format("/topics/{}/partitions/{}/records", t.topic, t.partition);
}

int fail(const std::string& what) {
    std::cerr << "fjord: " << what << "\n";
    return 1;
}

// Creates the topic (one partition, the cluster's default replication
// factor) unless it exists.
Result<Ok, std::string> ensure_topic(const LogTarget& t) {
    auto existing = call_leader("GET", t.bootstrap, "/topics/" + t.topic, "");
    if (!existing) return make_unexpected(existing.error());
    if (existing->status == 200) return Ok{};
    auto created = call_leader("POST", t.bootstrap, "/topics", json{{"name", t.topic}, {"partitions", 1}}.dump());
    if (!created) return make_unexpected(created.error());
    if (created->status != 201 && created->status != 409)
        return make_unexpected("cannot create topic " + t.topic + ": " + message_of(*created));
    return Ok{};
}

std::string list_of(const json& ids) {
    std::string out;
    for (const json& id : ids) out += (out.empty() ? "" : ",") + id.dump();
    return out;
}

}  // namespace

int run_log_append(const LogTarget& target, const std::vector<std::string>& values) {
    if (auto ok = ensure_topic(target); !ok) return fail(ok.error());
    for (const std::string& value : values) {
        auto reply = call_leader("POST", target.bootstrap, records_target(target), json{{"values", {value}}}.dump());
        if (!reply) return fail("append to " + target.topic + " failed: " + reply.error());
        if (reply->status != 200) return fail("append to " + target.topic + " failed: " + message_of(*reply));
        std::cout << reply->body["base_offset"].get<int64_t>() << "\n" << std::flush;
    }
    return 0;
}

int run_log_read(const LogTarget& target, int64_t from, int64_t count) {
    int64_t next = from;
    int64_t printed = 0;
    while (count < 0 || printed < count) {
        int64_t want = count < 0 ? 1000 : std::min<int64_t>(count - printed, 1000);
        auto reply = call_leader("GET", target.bootstrap, fmt::format("{}?from={}&count={}", records_target(target), next, want), "");
        if (!reply) return fail("read from " + target.topic + " failed: " + reply.error());
        if (reply->status != 200) return fail("read from " + target.topic + " failed: " + message_of(*reply));
        const json& records = reply->body["records"];
        if (records.empty()) break;
        for (const json& r : records) {
            std::cout << r["offset"].get<int64_t>() << " " << r["term"].get<uint64_t>() << " "
                      << r["value"].get<std::string>() << "\n";
            next = r["offset"].get<int64_t>() + 1;
            ++printed;
        }
    }
    std::cout << std::flush;
    return 0;
}

int run_cluster_status(const std::string& admin_addr) {
    auto status = call("GET", admin_addr, "/cluster/status");
    if (!status) return fail(status.error());
    auto partitions = call("GET", admin_addr, "/cluster/partitions");
    if (!partitions) return fail(partitions.error());
    const json& s = status->body;
    std::cout << fmt::format("controller leader: {}   partitions: {}   leaderless: {}   under-replicated: {}\n\n",
                             s["controller_leader"].dump(), s["partitions"].dump(), s["leaderless_partitions"].dump(),
                             s["under_replicated_partitions"].dump());
    std::cout << fmt::format("{:<5} {:<7} {:<8} {:<22} {:<22} {:<22} {}\n", "NODE", "ALIVE", "SERVING", "RPC", "KAFKA",
                             "ADMIN", "REASON");
    for (const json& n : s["nodes"]) {
        std::cout << fmt::format("{:<5} {:<7} {:<8} {:<22} {:<22} {:<22} {}\n", n["id"].dump(),
                                 n["alive"].get<bool>() ? "yes" : "no", n["serving"].get<bool>() ? "yes" : "no",
                                 n["rpc_addr"].get<std::string>(), n["kafka_addr"].get<std::string>(),
                                 n["admin_addr"].get<std::string>(), n["reason"].get<std::string>());
    }
    std::cout << fmt::format("\n{:<24} {:>5} {:>7} {:>6} {:<10} {:<10} {:>10} {}\n", "TOPIC", "PART", "LEADER", "TERM",
                             "REPLICAS", "ISR", "HW", "LAG");
    for (const json& p : partitions->body) {
        std::string lag;
        for (const json& r : p["replica_status"])
            lag += (lag.empty() ? "" : " ") + fmt::format("{}:{}", r["node"].dump(), r["lag"].dump());
        std::cout << fmt::format("{:<24} {:>5} {:>7} {:>6} {:<10} {:<10} {:>10} {}\n", p["topic"].get<std::string>(),
                                 p["partition"].dump(), p["leader"].dump(), p["term"].dump(), list_of(p["replicas"]),
                                 list_of(p["isr"]), p["high_watermark"].dump(), lag);
    }
    return 0;
}

}  // namespace fjord::app
