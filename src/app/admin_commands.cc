// `fjord cluster status`: the admin API's view of the cluster as tables.
#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "admin/http_client.h"
#include "app/commands.h"

namespace fjord::app {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr auto kRequestTimeout = 10s;

struct Reply {
    int status{0};
    json body;
};

Result<Reply, std::string> call(const std::string& method, const std::string& address,
                                const std::string& target, const std::string& body = "") {
    auto response = admin::http_request(method, address, target, body, kRequestTimeout);
    if (!response) return make_unexpected(response.error());
    json parsed = json::parse(response->body, nullptr, false);
    if (parsed.is_discarded())
        return make_unexpected(
            fmt::format("{} answered {} {} with a body that is not JSON", address, method, target));
    return Reply{response->status, std::move(parsed)};
}

int fail(const std::string& what) {
    std::cerr << "fjord: " << what << "\n";
    return 1;
}

std::string list_of(const json& ids) {
    std::string out;
    for (const json& id : ids) out += (out.empty() ? "" : ",") + id.dump();
    return out;
}

}  // namespace

int run_cluster_status(const std::string& admin_addr) {
    auto status = call("GET", admin_addr, "/cluster/status");
    if (!status) return fail(status.error());
    auto partitions = call("GET", admin_addr, "/cluster/partitions");
    if (!partitions) return fail(partitions.error());
    const json& s = status->body;
    std::cout << fmt::format(
        "controller leader: {}   partitions: {}   leaderless: {}   under-replicated: {}\n\n",
        s["controller_leader"].dump(), s["partitions"].dump(), s["leaderless_partitions"].dump(),
        s["under_replicated_partitions"].dump());
    std::cout << fmt::format("{:<5} {:<7} {:<8} {:<22} {:<22} {:<22} {}\n", "NODE", "ALIVE", "SERVING", "RPC",
                             "KAFKA", "ADMIN", "REASON");
    for (const json& n : s["nodes"]) {
        std::cout << fmt::format("{:<5} {:<7} {:<8} {:<22} {:<22} {:<22} {}\n", n["id"].dump(),
                                 n["alive"].get<bool>() ? "yes" : "no",
                                 n["serving"].get<bool>() ? "yes" : "no", n["rpc_addr"].get<std::string>(),
                                 n["kafka_addr"].get<std::string>(), n["admin_addr"].get<std::string>(),
                                 n["reason"].get<std::string>());
    }
    std::cout << fmt::format("\n{:<24} {:>5} {:>7} {:>6} {:<10} {:<10} {:>10} {}\n", "TOPIC", "PART",
                             "LEADER", "TERM", "REPLICAS", "ISR", "HW", "LAG");
    for (const json& p : partitions->body) {
        std::string lag;
        for (const json& r : p["replica_status"])
            lag += (lag.empty() ? "" : " ") + fmt::format("{}:{}", r["node"].dump(), r["lag"].dump());
        std::cout << fmt::format("{:<24} {:>5} {:>7} {:>6} {:<10} {:<10} {:>10} {}\n",
                                 p["topic"].get<std::string>(), p["partition"].dump(), p["leader"].dump(),
                                 p["term"].dump(), list_of(p["replicas"]), list_of(p["isr"]),
                                 p["high_watermark"].dump(), lag);
    }
    return 0;
}

}  // namespace fjord::app
