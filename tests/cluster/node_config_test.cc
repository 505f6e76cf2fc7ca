#include "cluster/node_config.h"

#include <gtest/gtest.h>

namespace fjord::cluster {
namespace {

NodeConfig valid_config() {
    NodeConfig c;
    c.node_id = 2;
    c.data_dir = "/tmp/fjord-node-2";
    c.kafka_addr = "127.0.0.1:9102";
    c.redis_addr = "127.0.0.1:9105";
    c.admin_addr = "127.0.0.1:9104";
    c.initial_cluster = *parse_initial_cluster("1=127.0.0.1:9093,2=127.0.0.1:9103,3=127.0.0.1:9113");
    return c;
}

std::string error_of(NodeConfig c) {
    auto r = validate(c);
    return r ? std::string() : r.error();
}

TEST(NodeConfig, ValidConfigDerivesRpcAndAdvertisedAddresses) {
    NodeConfig c = valid_config();
    ASSERT_TRUE(validate(c).has_value());
    EXPECT_EQ(c.rpc_addr, "127.0.0.1:9103");
    EXPECT_EQ(c.advertised_kafka_addr, "127.0.0.1:9102");
}

TEST(NodeConfig, InitialClusterIsParsedAndSorted) {
    auto members = parse_initial_cluster("3=h3:3,1=h1:1");
    ASSERT_TRUE(members.has_value());
    ASSERT_EQ(members->size(), 2u);
    EXPECT_EQ((*members)[0].id, 1u);
    EXPECT_EQ((*members)[1].rpc_addr, "h3:3");
}

TEST(NodeConfig, MalformedInitialClusterNamesTheMember) {
    EXPECT_NE(parse_initial_cluster("1=h:1,x=h:2").error().find("'x=h:2'"), std::string::npos);
    EXPECT_NE(parse_initial_cluster("0=h:1").error().find("positive"), std::string::npos);
    EXPECT_NE(parse_initial_cluster("1=h:1,1=h:2").error().find("appears twice"), std::string::npos);
    EXPECT_NE(parse_initial_cluster("1=h:1,2=h:1").error().find("appears twice"), std::string::npos);
    EXPECT_NE(parse_initial_cluster("1=h:99999").error().find("port in 1..65535"), std::string::npos);
    EXPECT_FALSE(parse_initial_cluster("").has_value());
}

TEST(NodeConfig, EachBadSettingIsNamed) {
    NodeConfig c = valid_config();
    c.node_id = 4;
    EXPECT_EQ(error_of(c), "--node-id 4 is not in --initial-cluster (1, 2, 3)");

    c = valid_config();
    c.node_id = 0;
    EXPECT_NE(error_of(c).find("--node-id"), std::string::npos);

    c = valid_config();
    c.kafka_addr = "127.0.0.1:70000";
    EXPECT_NE(error_of(c).find("--kafka-addr"), std::string::npos);

    c = valid_config();
    c.admin_addr = c.kafka_addr;
    EXPECT_NE(error_of(c).find("already used"), std::string::npos);

    c = valid_config();
    c.rpc_addr = "127.0.0.1:1";
    EXPECT_NE(error_of(c).find("--rpc-addr"), std::string::npos);

    c = valid_config();
    c.min_insync_replicas = 4;
    EXPECT_NE(error_of(c).find("--min-insync-replicas"), std::string::npos);

    c = valid_config();
    c.election_timeout_ms = 60;
    EXPECT_NE(error_of(c).find("--election-timeout-ms"), std::string::npos);

    c = valid_config();
    c.data_dir.clear();
    EXPECT_NE(error_of(c).find("--data-dir"), std::string::npos);
}

TEST(NodeConfig, ClusterIdDependsOnTheFoundingMembers) {
    auto a = *parse_initial_cluster("1=h:1,2=h:2");
    auto b = *parse_initial_cluster("1=h:1,2=h:3");
    EXPECT_EQ(cluster_id_of(a), cluster_id_of(a));
    EXPECT_NE(cluster_id_of(a), cluster_id_of(b));
}

}  // namespace
}  // namespace fjord::cluster
