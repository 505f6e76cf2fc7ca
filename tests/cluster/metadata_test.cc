// The controller's state machine (cluster/metadata.h) and its command codec
// (cluster/metadata_command.h): round trips, strict decoding, every refusal,
// check()/apply() parity, replica placement balance (of new topics and of
// partitions added to old ones), group ids, snapshots and determinism.
#include "cluster/metadata.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "cluster/metadata_command.h"
#include "seeded_rng.h"

namespace fjord::cluster {

// Readable failures for the commands and errors.
void PrintTo(const MetadataCommand& c, std::ostream* os) {
    *os << encode_command(c);
}
void PrintTo(const MetadataError& e, std::ostream* os) {
    *os << to_string(e.code) << ": " << e.detail;
}

namespace {

NodeInfo node(uint64_t id) {
    std::string n = std::to_string(id);
    return NodeInfo{id, "10.0.0." + n + ":7000", "10.0.0." + n + ":9092", "10.0.0." + n + ":6379",
                    "10.0.0." + n + ":8080"};
}

CreateTopic create(std::string name, int32_t partitions, int32_t rf,
                   std::map<std::string, std::string> configs = {}) {
    return CreateTopic{std::move(name), partitions, rf, std::move(configs)};
}

// Metadata with nodes 1..n registered.
Metadata with_nodes(uint64_t n) {
    Metadata md;
    for (uint64_t id = 1; id <= n; ++id) EXPECT_TRUE(md.apply(RegisterNode{node(id)}));
    return md;
}

void apply_ok(Metadata& md, const MetadataCommand& c) {
    auto r = md.apply(c);
    ASSERT_TRUE(r) << encode_command(c) << ": " << r.error().detail;
}

// The refusal of `c`, checked to be the same from check() and apply() and to
// leave the state untouched.
MetadataError refusal(Metadata& md, const MetadataCommand& c) {
    const std::string before = md.snapshot();
    auto checked = md.check(c);
    auto applied = md.apply(c);
    EXPECT_FALSE(checked) << encode_command(c);
    EXPECT_FALSE(applied) << encode_command(c);
    if (checked || applied) return MetadataError{};
    EXPECT_EQ(checked.error(), applied.error());
    EXPECT_EQ(md.snapshot(), before);
    return applied.error();
}

// ---------------------------------------------------------------------------
// The codec.

std::vector<MetadataCommand> sample_commands() {
    return {
        RegisterNode{node(7)},
        RegisterNode{NodeInfo{UINT64_MAX, "h:1", "", "", ""}},
        create("orders", 12, 3, {{"retention.ms", "-1"}, {"cleanup.policy", "delete"}}),
        create("", 0, -5, {}),
        create("quo\"te\\ \xc3\xa9", INT32_MIN, INT32_MAX, {{"k\n", "v\t\x01"}}),
        DeleteTopic{"orders"},
        SetTopicConfig{"orders", {{"segment.bytes", "1048576"}}, {"retention.ms", "flush.ms"}},
        SetTopicConfig{"t", {}, {}},
        AddPartitions{"orders", 24},
        AddPartitions{"", INT32_MIN},
        AddPartitions{"quo\"te\\ \xc3\xa9", INT32_MAX},
    };
}

TEST(MetadataCommandTest, EveryCommandRoundTrips) {
    for (const MetadataCommand& c : sample_commands()) {
        std::string text = encode_command(c);
        auto decoded = decode_command(text);
        ASSERT_TRUE(decoded) << text << ": " << decoded.error();
        EXPECT_EQ(decoded.value(), c) << text;
        EXPECT_EQ(encode_command(decoded.value()), text);
    }
}

TEST(MetadataCommandTest, EncodingNamesTheType) {
    EXPECT_EQ(encode_command(DeleteTopic{"t"}), R"({"name":"t","type":"delete_topic"})");
    EXPECT_NE(encode_command(create("t", 1, 1)).find(R"("type":"create_topic")"), std::string::npos);
    EXPECT_NE(encode_command(RegisterNode{node(1)}).find(R"("type":"register_node")"), std::string::npos);
    EXPECT_NE(encode_command(SetTopicConfig{"t", {}, {}}).find(R"("type":"set_topic_config")"),
              std::string::npos);
    EXPECT_EQ(encode_command(AddPartitions{"t", 6}), R"({"count":6,"name":"t","type":"add_partitions"})");
}

TEST(MetadataCommandTest, AddPartitionsIsTheLastAlternative) {
    // The variant's index is part of nothing on the wire, but new commands go
    // at the end so that code written before them keeps its meaning.
    EXPECT_EQ(MetadataCommand(AddPartitions{"t", 2}).index(), std::variant_size_v<MetadataCommand> - 1);
    EXPECT_EQ(MetadataCommand(SetTopicConfig{}).index(), 3u);
}

TEST(MetadataCommandTest, EncodingBytesThatAreNotUtf8DoesNotThrow) {
    std::string text;
    ASSERT_NO_THROW(text = encode_command(DeleteTopic{"bad\xff\xfe"}));
    EXPECT_TRUE(decode_command(text));
}

// Each malformed input with a fragment its error must contain.
struct Malformed {
    const char* text;
    const char* error;
};

TEST(MetadataCommandTest, MalformedInputIsAnErrorNotAnException) {
    const Malformed cases[] = {
        {"", "not valid JSON"},
        {"{", "not valid JSON"},
        {R"({"type":"delete_topic","name":"t"} trailing)", "not valid JSON"},
        {"[1,2]", "command: expected an object, got array"},
        {"42", "command: expected an object, got number 42"},
        {R"({"name":"t"})", R"(command: missing field "type")"},
        {R"({"type":7,"name":"t"})", "command.type: expected a string, got number 7"},
        {R"({"type":"drop_table","name":"t"})", R"(command: unknown type "drop_table")"},
        {R"({"type":"delete_topic"})", R"(delete_topic: missing field "name")"},
        {R"({"type":"delete_topic","name":null})", "delete_topic.name: expected a string, got null"},
        {R"({"type":"delete_topic","name":"t","force":true})", R"(delete_topic: unknown field "force")"},
        {R"({"type":"create_topic","name":"t","partitions":"3","replication_factor":1,"configs":{}})",
         "create_topic.partitions: expected a 32-bit integer, got string"},
        {R"({"type":"create_topic","name":"t","partitions":1.5,"replication_factor":1,"configs":{}})",
         "create_topic.partitions: expected a 32-bit integer, got number 1.5"},
        {R"({"type":"create_topic","name":"t","partitions":4294967296,"replication_factor":1,"configs":{}})",
         "create_topic.partitions: expected a 32-bit integer, got number 4294967296"},
        {R"({"type":"create_topic","name":"t","partitions":1,"replication_factor":-2147483649,"configs":{}})",
         "create_topic.replication_factor: expected a 32-bit integer"},
        {R"({"type":"create_topic","name":"t","partitions":1,"replication_factor":1,"configs":[]})",
         "create_topic.configs: expected an object, got array"},
        {R"({"type":"create_topic","name":"t","partitions":1,"replication_factor":1,"configs":{"a":1}})",
         "create_topic.configs.a: expected a string, got number 1"},
        {R"({"type":"set_topic_config","name":"t","set":{},"remove":"x"})",
         "set_topic_config.remove: expected an array, got string"},
        {R"({"type":"set_topic_config","name":"t","set":{},"remove":["a",false]})",
         "set_topic_config.remove[1]: expected a string, got boolean"},
        {R"({"type":"add_partitions","name":"t"})", R"(add_partitions: missing field "count")"},
        {R"({"type":"add_partitions","count":3})", R"(add_partitions: missing field "name")"},
        {R"({"type":"add_partitions","name":"t","count":"3"})",
         "add_partitions.count: expected a 32-bit integer, got string"},
        {R"({"type":"add_partitions","name":"t","count":3.0})",
         "add_partitions.count: expected a 32-bit integer, got number 3.0"},
        {R"({"type":"add_partitions","name":"t","count":2147483648})",
         "add_partitions.count: expected a 32-bit integer, got number 2147483648"},
        {R"({"type":"add_partitions","name":"t","count":-2147483649})",
         "add_partitions.count: expected a 32-bit integer"},
        {R"({"type":"add_partitions","name":"t","count":null})",
         "add_partitions.count: expected a 32-bit integer, got null"},
        {R"({"type":"add_partitions","name":["t"],"count":3})",
         "add_partitions.name: expected a string, got array"},
        {R"({"type":"add_partitions","name":"t","count":3,"partitions":3})",
         R"(add_partitions: unknown field "partitions")"},
        {R"({"type":"Add_Partitions","name":"t","count":3})", R"(command: unknown type "Add_Partitions")"},
        {R"({"type":"register_node","node":[]})", "register_node.node: expected an object, got array"},
        {R"({"type":"register_node","node":{"id":-1,"rpc_addr":"a","kafka_addr":"","redis_addr":"","admin_addr":""}})",
         "register_node.node.id: expected an unsigned integer, got number -1"},
        {R"({"type":"register_node","node":{"id":18446744073709551616,"rpc_addr":"a","kafka_addr":"","redis_addr":"","admin_addr":""}})",
         "register_node.node.id: expected an unsigned integer"},
        {R"({"type":"register_node","node":{"id":1,"rpc_addr":"a","kafka_addr":"","redis_addr":""}})",
         R"(register_node.node: missing field "admin_addr")"},
        {R"({"type":"register_node","node":{"id":1,"rpc_addr":"a","kafka_addr":"","redis_addr":"","admin_addr":"","x":0}})",
         R"(register_node.node: unknown field "x")"},
    };
    for (const Malformed& m : cases) {
        Result<MetadataCommand, std::string> r = MetadataCommand{};
        ASSERT_NO_THROW(r = decode_command(m.text)) << m.text;
        ASSERT_FALSE(r) << m.text;
        EXPECT_NE(r.error().find(m.error), std::string::npos) << m.text << "\n  gave: " << r.error();
    }
}

// ---------------------------------------------------------------------------
// Refusals, one per rule.

TEST(MetadataTest, ErrorCodesHaveNames) {
    EXPECT_EQ(to_string(MetadataErrc::topic_exists), "topic_exists");
    EXPECT_EQ(to_string(MetadataErrc::invalid_replication_factor), "invalid_replication_factor");
    EXPECT_EQ(to_string(MetadataErrc::invalid_node), "invalid_node");
}

TEST(MetadataTest, RegisterNodeAddsAndUpdates) {
    Metadata md = with_nodes(2);
    ASSERT_EQ(md.nodes().size(), 2u);
    NodeInfo moved = node(2);
    moved.rpc_addr = "10.9.9.9:7000";
    apply_ok(md, RegisterNode{moved});
    EXPECT_EQ(md.nodes().size(), 2u);
    EXPECT_EQ(md.nodes().at(2), moved);
}

TEST(MetadataTest, RefusesInvalidNodes) {
    Metadata md;
    NodeInfo zero = node(0);
    EXPECT_EQ(refusal(md, RegisterNode{zero}).code, MetadataErrc::invalid_node);
    NodeInfo no_rpc = node(3);
    no_rpc.rpc_addr.clear();
    MetadataError e = refusal(md, RegisterNode{no_rpc});
    EXPECT_EQ(e.code, MetadataErrc::invalid_node);
    EXPECT_NE(e.detail.find("node 3"), std::string::npos) << e.detail;
    NodeInfo spaced = node(3);
    spaced.kafka_addr = "host 9092";
    e = refusal(md, RegisterNode{spaced});
    EXPECT_EQ(e.code, MetadataErrc::invalid_node);
    EXPECT_NE(e.detail.find("kafka_addr"), std::string::npos) << e.detail;
    EXPECT_TRUE(md.nodes().empty());
}

TEST(MetadataTest, TopicNamesFollowKafka) {
    Metadata md = with_nodes(1);
    for (const std::string& ok : std::vector<std::string>{"a", "A-b_c.9", std::string(249, 'x'), "..."}) {
        EXPECT_TRUE(md.check(create(ok, 1, 1))) << ok;
    }
    const std::vector<std::string> bad_names = {"",    ".",   "..",       std::string(250, 'x'),
                                                "a b", "a/b", "\xc3\xbc", std::string("a\0b", 3)};
    for (const std::string& bad : bad_names) {
        MetadataError e = refusal(md, create(bad, 1, 1));
        EXPECT_EQ(e.code, MetadataErrc::invalid_topic_name) << bad;
        EXPECT_NE(e.detail.find("topic name"), std::string::npos) << e.detail;
    }
    EXPECT_NE(refusal(md, create("a/b", 1, 1)).detail.find("\"/\""), std::string::npos);
}

TEST(MetadataTest, RefusesDuplicateAndUnknownTopics) {
    Metadata md = with_nodes(1);
    apply_ok(md, create("t", 1, 1));
    MetadataError e = refusal(md, create("t", 2, 1));
    EXPECT_EQ(e.code, MetadataErrc::topic_exists);
    EXPECT_EQ(e.detail, "topic \"t\" already exists");
    EXPECT_EQ(refusal(md, DeleteTopic{"u"}).code, MetadataErrc::unknown_topic);
    e = refusal(md, SetTopicConfig{"u", {}, {}});
    EXPECT_EQ(e.code, MetadataErrc::unknown_topic);
    EXPECT_EQ(e.detail, "topic \"u\" does not exist");
}

TEST(MetadataTest, TheKeyValueShardsCanNeitherBeDeletedNorGrow) {
    Metadata md = with_nodes(1);
    apply_ok(md, create("__kv", 4, 1));
    MetadataError e = refusal(md, DeleteTopic{"__kv"});
    EXPECT_EQ(e.code, MetadataErrc::invalid_topic_name);
    EXPECT_NE(e.detail.find("cannot be deleted"), std::string::npos) << e.detail;
    e = refusal(md, AddPartitions{"__kv", 8});
    EXPECT_EQ(e.code, MetadataErrc::invalid_topic_name);
    EXPECT_EQ(md.topic("__kv")->partitions.size(), 4u);
}

TEST(MetadataTest, RefusesPartitionCountsOutsideTheLimits) {
    Metadata md = with_nodes(1);
    for (int32_t bad : {0, -1, 10001, INT32_MAX}) {
        MetadataError e = refusal(md, create("t", bad, 1));
        EXPECT_EQ(e.code, MetadataErrc::invalid_partitions) << bad;
        EXPECT_NE(e.detail.find(std::to_string(bad)), std::string::npos) << e.detail;
    }
    EXPECT_TRUE(md.check(create("t", 10000, 1)));
}

TEST(MetadataTest, ReplicationFactorIsBoundedByTheRegisteredNodes) {
    Metadata md = with_nodes(3);
    MetadataError e = refusal(md, create("t", 1, 4));
    EXPECT_EQ(e.code, MetadataErrc::invalid_replication_factor);
    EXPECT_EQ(e.detail, "topic \"t\": replication factor 4 exceeds the 3 registered nodes");
    EXPECT_EQ(refusal(md, create("t", 1, 0)).code, MetadataErrc::invalid_replication_factor);
    EXPECT_EQ(refusal(md, create("t", 1, -3)).code, MetadataErrc::invalid_replication_factor);
    EXPECT_TRUE(md.check(create("t", 1, 3)));
    Metadata empty;
    EXPECT_EQ(refusal(empty, create("t", 1, 1)).code, MetadataErrc::invalid_replication_factor);
}

TEST(MetadataTest, ValidConfigsAreAccepted) {
    Metadata md = with_nodes(3);
    std::map<std::string, std::string> configs = {
        {"retention.ms", "-1"},       {"retention.bytes", "1073741824"}, {"segment.bytes", "1048576"},
        {"segment.ms", "604800000"},  {"min.insync.replicas", "2"},      {"max.message.bytes", "1048588"},
        {"cleanup.policy", "delete"}, {"flush.policy", "interval"},      {"flush.ms", "0"},
    };
    apply_ok(md, create("t", 1, 3, configs));
    EXPECT_EQ(md.topic("t")->configs, configs);
    for (const char* policy : {"every_append", "never"}) {
        apply_ok(md, SetTopicConfig{"t", {{"flush.policy", policy}}, {}});
    }
}

// Each invalid config with a fragment its error must contain.
struct BadConfig {
    const char* key;
    const char* value;
    const char* error;
};

TEST(MetadataTest, RefusesInvalidConfigsNamingKeyAndValue) {
    Metadata md = with_nodes(3);
    const BadConfig cases[] = {
        {"retention.size", "1", "unknown config key \"retention.size\""},
        {"retention.ms", "-2", "retention.ms -2 is outside -1.."},
        {"retention.bytes", "lots", "retention.bytes \"lots\" is not an integer"},
        {"segment.bytes", "0", "segment.bytes 0 is outside 1..2147483647"},
        {"segment.bytes", "2147483648", "segment.bytes 2147483648 is outside"},
        {"segment.ms", "1.5", "segment.ms \"1.5\" is not an integer"},
        {"segment.ms", " 5", "segment.ms \" 5\" is not an integer"},
        {"segment.ms", "+5", "is not an integer"},
        {"segment.ms", "", "segment.ms \"\" is not an integer"},
        {"flush.ms", "99999999999999999999", "is not an integer"},
        {"max.message.bytes", "-1", "max.message.bytes -1 is outside"},
        {"min.insync.replicas", "4", "min.insync.replicas 4 exceeds the replication factor 3"},
        {"min.insync.replicas", "0", "min.insync.replicas 0 is outside 1..3"},
        {"cleanup.policy", "compact", "cleanup.policy \"compact\" is not one of delete"},
        {"flush.policy", "sometimes", "flush.policy \"sometimes\" is not one of every_append|interval|never"},
    };
    apply_ok(md, create("t", 1, 3));
    for (const BadConfig& c : cases) {
        for (const MetadataCommand& cmd : {MetadataCommand{create("u", 1, 3, {{c.key, c.value}})},
                                           MetadataCommand{SetTopicConfig{"t", {{c.key, c.value}}, {}}}}) {
            MetadataError e = refusal(md, cmd);
            EXPECT_EQ(e.code, MetadataErrc::invalid_config) << c.key << "=" << c.value;
            EXPECT_NE(e.detail.find(c.error), std::string::npos) << e.detail;
        }
    }
}

TEST(MetadataTest, MinInsyncReplicasIsBoundedByTheTopicsReplicationFactor) {
    Metadata md = with_nodes(3);
    apply_ok(md, create("t", 1, 2));
    EXPECT_EQ(refusal(md, SetTopicConfig{"t", {{"min.insync.replicas", "3"}}, {}}).code,
              MetadataErrc::invalid_config);
    apply_ok(md, SetTopicConfig{"t", {{"min.insync.replicas", "2"}}, {}});
}

TEST(MetadataTest, SetTopicConfigSetsAndRemoves) {
    Metadata md = with_nodes(1);
    apply_ok(md, create("t", 1, 1, {{"retention.ms", "1000"}, {"segment.ms", "60000"}}));
    apply_ok(md, SetTopicConfig{
                     "t", {{"retention.ms", "2000"}, {"flush.ms", "5"}}, {"segment.ms", "segment.bytes"}});
    std::map<std::string, std::string> expected = {{"retention.ms", "2000"}, {"flush.ms", "5"}};
    EXPECT_EQ(md.topic("t")->configs, expected);
}

TEST(MetadataTest, SetTopicConfigRefusesUnknownOrConflictingRemovals) {
    Metadata md = with_nodes(1);
    apply_ok(md, create("t", 1, 1));
    MetadataError e = refusal(md, SetTopicConfig{"t", {}, {"colour"}});
    EXPECT_EQ(e.code, MetadataErrc::invalid_config);
    EXPECT_NE(e.detail.find("\"colour\""), std::string::npos) << e.detail;
    e = refusal(md, SetTopicConfig{"t", {{"flush.ms", "1"}}, {"flush.ms"}});
    EXPECT_EQ(e.code, MetadataErrc::invalid_config);
    EXPECT_NE(e.detail.find("both set and removed"), std::string::npos) << e.detail;
}

TEST(MetadataTest, AddPartitionsRefusesUnknownTopics) {
    Metadata md = with_nodes(1);
    apply_ok(md, create("t", 1, 1));
    MetadataError e = refusal(md, AddPartitions{"u", 2});
    EXPECT_EQ(e.code, MetadataErrc::unknown_topic);
    EXPECT_EQ(e.detail, "topic \"u\" does not exist");
    apply_ok(md, DeleteTopic{"t"});
    EXPECT_EQ(refusal(md, AddPartitions{"t", 2}).code, MetadataErrc::unknown_topic);
}

TEST(MetadataTest, AddPartitionsOnlyGrows) {
    Metadata md = with_nodes(3);
    apply_ok(md, create("t", 6, 2));
    for (int32_t bad : {6, 5, 1, 0, -1, INT32_MIN}) {
        MetadataError e = refusal(md, AddPartitions{"t", bad});
        EXPECT_EQ(e.code, MetadataErrc::invalid_partitions) << bad;
        EXPECT_NE(e.detail.find("topic \"t\" already has 6 partitions; the count can only grow"),
                  std::string::npos)
            << e.detail;
        EXPECT_NE(e.detail.find(std::to_string(bad)), std::string::npos) << e.detail;
    }
    apply_ok(md, create("one", 1, 1));
    EXPECT_NE(refusal(md, AddPartitions{"one", 1}).detail.find("already has 1 partition;"),
              std::string::npos);
    EXPECT_EQ(md.topic("t")->partitions.size(), 6u);
}

TEST(MetadataTest, AddPartitionsRefusesCountsAboveTheLimit) {
    Metadata md = with_nodes(1);
    apply_ok(md, create("t", 3, 1));
    for (int32_t bad : {10001, INT32_MAX}) {
        MetadataError e = refusal(md, AddPartitions{"t", bad});
        EXPECT_EQ(e.code, MetadataErrc::invalid_partitions) << bad;
        EXPECT_NE(e.detail.find(std::to_string(bad) + " partitions is outside 1..10000"), std::string::npos)
            << e.detail;
    }
    EXPECT_TRUE(md.check(AddPartitions{"t", 10000}));
    EXPECT_TRUE(md.check(AddPartitions{"t", 4}));
}

TEST(MetadataTest, RefusedCommandsDoNotCountAsVersions) {
    Metadata md = with_nodes(2);
    EXPECT_EQ(md.version(), 2u);
    EXPECT_FALSE(md.apply(create("t", 1, 3)));
    EXPECT_EQ(md.version(), 2u);
    apply_ok(md, create("t", 1, 2));
    EXPECT_EQ(md.version(), 3u);
}

// check() and apply() agree on every command of a random mix, valid or not.
TEST(MetadataTest, CheckRefusesExactlyWhatApplyRefuses) {
    testing::SeededRng rng(42);
    Metadata md;
    const char* names[] = {"a", "b", "c", "", "d/e"};
    const char* keys[] = {"retention.ms", "min.insync.replicas", "flush.policy", "colour"};
    const char* values[] = {"1", "3", "never", "-7", "x"};
    int added = 0, not_added = 0;  // AddPartitions applied and refused
    for (int step = 0; step < 2000; ++step) {
        std::string name = names[rng.range(0, 4)];
        std::string key = keys[rng.range(0, 3)];
        std::string value = values[rng.range(0, 4)];
        MetadataCommand c;
        switch (rng.range(0, 4)) {
            case 0:
                c = RegisterNode{node(rng.range(0, 5))};
                break;
            case 1:
                c = create(
                    name, static_cast<int32_t>(rng.range(0, 4)), static_cast<int32_t>(rng.range(0, 4)),
                    rng.chance(50) ? std::map<std::string, std::string>{} : std::map{std::pair(key, value)});
                break;
            case 2:
                c = DeleteTopic{name};
                break;
            case 3:
                c = SetTopicConfig{
                    name, {{key, value}}, rng.chance(30) ? std::vector{key} : std::vector<std::string>{}};
                break;
            default: {
                // Near the topic's count (equal is refused), any small count,
                // or beyond the limit.
                const TopicInfo* t = md.topic(name);
                int32_t count = static_cast<int32_t>(rng.range(0, 8)) - 1;
                if (t != nullptr && rng.chance(50)) {
                    count = static_cast<int32_t>(t->partitions.size() + rng.range(0, 3));
                } else if (rng.chance(5)) {
                    count = kMaxPartitions + 1;
                }
                c = AddPartitions{name, count};
            }
        }
        const std::string before = md.snapshot();
        auto checked = md.check(c);
        EXPECT_EQ(md.snapshot(), before);
        auto applied = md.apply(c);
        ASSERT_EQ(checked.has_value(), applied.has_value()) << encode_command(c);
        if (!applied) {
            EXPECT_EQ(checked.error(), applied.error());
            EXPECT_EQ(md.snapshot(), before);
        }
        if (std::holds_alternative<AddPartitions>(c)) ++(applied ? added : not_added);
    }
    // The mix reaches both outcomes of the newest command.
    EXPECT_GT(added, 20);
    EXPECT_GT(not_added, 20);
}

// ---------------------------------------------------------------------------
// Placement.

struct Balance {
    std::map<uint64_t, int> leaders, replicas;
};

Balance balance_of(const Metadata& md) {
    Balance b;
    for (const auto& [id, n] : md.nodes()) b.leaders[id] = b.replicas[id] = 0;
    for (const auto& [name, t] : md.topics()) {
        for (const auto& p : t.partitions) {
            ++b.leaders[p.replicas.front()];
            for (uint64_t r : p.replicas) ++b.replicas[r];
        }
    }
    return b;
}

int spread(const std::map<uint64_t, int>& counts) {
    auto [lo, hi] = std::minmax_element(counts.begin(), counts.end(),
                                        [](const auto& a, const auto& b) { return a.second < b.second; });
    return hi->second - lo->second;
}

void expect_distinct_registered_replicas(const Metadata& md) {
    for (const auto& [name, t] : md.topics()) {
        for (const auto& p : t.partitions) {
            ASSERT_EQ(p.replicas.size(), static_cast<size_t>(t.replication_factor));
            std::set<uint64_t> distinct(p.replicas.begin(), p.replicas.end());
            EXPECT_EQ(distinct.size(), p.replicas.size()) << name << "-" << p.partition;
            for (uint64_t r : p.replicas) EXPECT_TRUE(md.nodes().contains(r));
        }
    }
}

TEST(MetadataPlacementTest, ThreeTopicsOnThreeNodesAreExactlyEven) {
    Metadata md = with_nodes(3);
    for (const char* name : {"a", "b", "c"}) apply_ok(md, create(name, 6, 3));
    expect_distinct_registered_replicas(md);
    Balance b = balance_of(md);
    for (uint64_t id = 1; id <= 3; ++id) {
        EXPECT_EQ(b.leaders[id], 6) << "node " << id;
        EXPECT_EQ(b.replicas[id], 18) << "node " << id;
    }
    // Each topic on its own spreads its leaders too.
    for (const auto& [name, t] : md.topics()) {
        std::map<uint64_t, int> leaders;
        for (const auto& p : t.partitions) ++leaders[p.replicas.front()];
        EXPECT_EQ(leaders.size(), 3u) << name;
        EXPECT_EQ(spread(leaders), 0) << name;
    }
}

TEST(MetadataPlacementTest, FiveNodesReplicationFactorThreeAreBalancedWithinOne) {
    Metadata md = with_nodes(5);
    int32_t sizes[] = {1, 7, 3, 10, 2, 4, 1, 1, 6};
    for (size_t i = 0; i < std::size(sizes); ++i) {
        apply_ok(md, create("t" + std::to_string(i), sizes[i], 3));
        Balance b = balance_of(md);
        EXPECT_LE(spread(b.leaders), 1) << "after topic " << i;
        EXPECT_LE(spread(b.replicas), 1) << "after topic " << i;
    }
    expect_distinct_registered_replicas(md);
}

// Every cluster size and replication factor, with topics of assorted sizes,
// stays within one leadership and one replica of even.
TEST(MetadataPlacementTest, StaysWithinOneForEveryClusterShape) {
    for (uint64_t nodes = 1; nodes <= 7; ++nodes) {
        for (int32_t rf = 1; rf <= static_cast<int32_t>(nodes); ++rf) {
            Metadata md = with_nodes(nodes);
            for (int32_t partitions : {1, 2, 3, 5, 8, 13, 1, 4}) {
                apply_ok(md, create("t" + std::to_string(md.version()), partitions, rf));
                Balance b = balance_of(md);
                ASSERT_LE(spread(b.leaders), 1) << nodes << " nodes, rf " << rf;
                ASSERT_LE(spread(b.replicas), 1) << nodes << " nodes, rf " << rf;
            }
            expect_distinct_registered_replicas(md);
        }
    }
}

// When every node carries the same load, the tie-break decides: partition 0
// of successive topics must not always go to the lowest id.
TEST(MetadataPlacementTest, SuccessiveTopicsStartAtDifferentNodes) {
    Metadata md = with_nodes(3);
    std::set<uint64_t> first_leaders;
    for (const char* name : {"a", "b", "c"}) {
        apply_ok(md, create(name, 3, 3));
        first_leaders.insert(md.partition(name, 0)->replicas[0]);
    }
    EXPECT_EQ(first_leaders.size(), 3u);
}

TEST(MetadataPlacementTest, ANewNodeTakesTheNextLeaderships) {
    Metadata md = with_nodes(2);
    apply_ok(md, create("a", 4, 2));
    apply_ok(md, RegisterNode{node(3)});
    apply_ok(md, create("b", 2, 1));
    EXPECT_EQ(md.partition("b", 0)->replicas, std::vector<uint64_t>{3});
    EXPECT_EQ(md.partition("b", 1)->replicas, std::vector<uint64_t>{3});
}

// The example of Kafka's CreatePartitions: doubling a topic that alone fills
// three nodes leaves each leading two and hosting six.
TEST(MetadataPlacementTest, AddPartitionsDoublingAnEvenTopicStaysExactlyEven) {
    Metadata md = with_nodes(3);
    apply_ok(md, create("t", 3, 3));
    apply_ok(md, AddPartitions{"t", 6});
    expect_distinct_registered_replicas(md);
    Balance b = balance_of(md);
    for (uint64_t id = 1; id <= 3; ++id) {
        EXPECT_EQ(b.leaders[id], 2) << "node " << id;
        EXPECT_EQ(b.replicas[id], 6) << "node " << id;
    }
    // The new partitions on their own have one leader per node.
    std::set<uint64_t> new_leaders;
    for (int32_t p = 3; p < 6; ++p) new_leaders.insert(md.partition("t", p)->replicas[0]);
    EXPECT_EQ(new_leaders.size(), 3u);
}

// Added partitions go to the least loaded nodes, wherever the load came from.
TEST(MetadataPlacementTest, AddPartitionsFillsANewNodeFirst) {
    Metadata md = with_nodes(2);
    apply_ok(md, create("a", 4, 2));
    apply_ok(md, RegisterNode{node(3)});
    apply_ok(md, AddPartitions{"a", 6});
    EXPECT_EQ(md.partition("a", 4)->replicas.front(), 3u);
    EXPECT_EQ(md.partition("a", 5)->replicas.front(), 3u);
    Balance b = balance_of(md);
    EXPECT_LE(spread(b.leaders), 1);
}

// Growing topics one partition or many at a time, between creations, keeps
// every cluster shape within one leadership of even. Replicas stay within
// two: the greedy placement gives the leadership first, and the one node that
// must lead may already host the most replicas. CreateTopic has the same
// bound (other sizes than StaysWithinOneForEveryClusterShape's reach two).
TEST(MetadataPlacementTest, AddPartitionsKeepsLeadersWithinOneForEveryClusterShape) {
    for (uint64_t nodes = 1; nodes <= 7; ++nodes) {
        for (int32_t rf = 1; rf <= static_cast<int32_t>(nodes); ++rf) {
            Metadata md = with_nodes(nodes);
            apply_ok(md, create("a", 1, rf));
            apply_ok(md, create("b", 3, rf));
            for (int32_t growth : {1, 1, 2, 5, 3, 8, 1, 13}) {
                for (const char* name : {"a", "b"}) {
                    const auto count = static_cast<int32_t>(md.topic(name)->partitions.size()) + growth;
                    apply_ok(md, AddPartitions{name, count});
                    Balance b = balance_of(md);
                    ASSERT_LE(spread(b.leaders), 1) << nodes << " nodes, rf " << rf << ", " << name;
                    ASSERT_LE(spread(b.replicas), 2) << nodes << " nodes, rf " << rf << ", " << name;
                }
                apply_ok(md, create("t" + std::to_string(md.version()), growth, rf));
            }
            expect_distinct_registered_replicas(md);
        }
    }
}

// ---------------------------------------------------------------------------
// Raft groups.

TEST(MetadataTest, GroupsCountFromOneAndAreNeverReused) {
    Metadata md = with_nodes(3);
    apply_ok(md, create("a", 3, 3));
    for (int32_t p = 0; p < 3; ++p) EXPECT_EQ(md.partition("a", p)->group, static_cast<uint64_t>(p + 1));
    apply_ok(md, DeleteTopic{"a"});
    EXPECT_EQ(md.topic("a"), nullptr);
    apply_ok(md, create("a", 2, 1));
    EXPECT_EQ(md.partition("a", 0)->group, 4u);
    EXPECT_EQ(md.partition("a", 1)->group, 5u);
    EXPECT_EQ(md.next_group(), 6u);
}

TEST(MetadataTest, LocatesGroupsAndPartitions) {
    Metadata md = with_nodes(3);
    apply_ok(md, create("a", 2, 3));
    apply_ok(md, create("b", 3, 2));
    EXPECT_EQ(md.locate_group(4), std::optional(std::pair(std::string("b"), 1)));
    EXPECT_EQ(md.locate_group(0), std::nullopt);
    EXPECT_EQ(md.locate_group(6), std::nullopt);
    EXPECT_EQ(md.partition("b", 2)->group, 5u);
    EXPECT_EQ(md.partition("b", 3), nullptr);
    EXPECT_EQ(md.partition("b", -1), nullptr);
    EXPECT_EQ(md.partition("z", 0), nullptr);
    apply_ok(md, DeleteTopic{"b"});
    EXPECT_EQ(md.locate_group(4), std::nullopt);
    EXPECT_EQ(md.locate_group(1), std::optional(std::pair(std::string("a"), 0)));
}

TEST(MetadataTest, AddPartitionsAppendsPartitionsWithNewGroups) {
    Metadata md = with_nodes(3);
    apply_ok(md, create("t", 3, 3, {{"retention.ms", "1000"}}));
    apply_ok(md, create("u", 2, 2));
    const TopicInfo before = *md.topic("t");
    const uint64_t version = md.version();
    apply_ok(md, AddPartitions{"t", 7});
    EXPECT_EQ(md.version(), version + 1);
    const TopicInfo& t = *md.topic("t");
    ASSERT_EQ(t.partitions.size(), 7u);
    EXPECT_EQ(t.replication_factor, 3);
    EXPECT_EQ(t.configs, before.configs);
    // The old partitions are untouched; the new ones are numbered on.
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(t.partitions[i], before.partitions[i]);
    std::set<uint64_t> groups;
    for (const auto& [name, topic] : md.topics()) {
        for (const auto& p : topic.partitions) EXPECT_TRUE(groups.insert(p.group).second) << p.group;
    }
    for (int32_t p = 3; p < 7; ++p) {
        const PartitionInfo* info = md.partition("t", p);
        ASSERT_NE(info, nullptr);
        EXPECT_EQ(info->partition, p);
        // "t" took 1..3 and "u" 4..5.
        EXPECT_EQ(info->group, static_cast<uint64_t>(p + 3));
        EXPECT_EQ(md.locate_group(info->group), std::optional(std::pair(std::string("t"), p)));
    }
    EXPECT_EQ(md.next_group(), 10u);
    EXPECT_EQ(md.partition("u", 0)->group, 4u);
    expect_distinct_registered_replicas(md);
    // Deleting the topic forgets its added groups too.
    apply_ok(md, DeleteTopic{"t"});
    for (uint64_t g : {1u, 6u, 9u}) EXPECT_EQ(md.locate_group(g), std::nullopt) << g;
    EXPECT_EQ(md.locate_group(4), std::optional(std::pair(std::string("u"), 0)));
}

TEST(MetadataTest, AddPartitionsNeverReusesTheGroupsOfDeletedTopics) {
    Metadata md = with_nodes(2);
    apply_ok(md, create("a", 3, 2));
    apply_ok(md, create("b", 1, 1));
    apply_ok(md, DeleteTopic{"a"});
    apply_ok(md, AddPartitions{"b", 3});
    EXPECT_EQ(md.partition("b", 1)->group, 5u);
    EXPECT_EQ(md.partition("b", 2)->group, 6u);
    EXPECT_EQ(md.locate_group(2), std::nullopt);
}

// ---------------------------------------------------------------------------
// Snapshots and determinism.

Metadata busy_metadata() {
    Metadata md = with_nodes(4);
    apply_ok(md, create("orders", 6, 3, {{"retention.ms", "86400000"}, {"min.insync.replicas", "2"}}));
    apply_ok(md, create("gone", 4, 2));
    apply_ok(md, create("__consumer_offsets", 5, 3, {{"cleanup.policy", "delete"}}));
    apply_ok(md, DeleteTopic{"gone"});
    apply_ok(md, SetTopicConfig{"orders", {{"flush.policy", "never"}}, {"retention.ms"}});
    apply_ok(md, AddPartitions{"orders", 8});
    return md;
}

TEST(MetadataSnapshotTest, RestoreGivesTheSameState) {
    Metadata md = busy_metadata();
    ASSERT_EQ(md.topic("orders")->partitions.size(), 8u);
    std::string image = md.snapshot();
    auto restored = Metadata::restore(image);
    ASSERT_TRUE(restored) << restored.error();
    EXPECT_EQ(restored->snapshot(), image);
    EXPECT_EQ(restored->nodes(), md.nodes());
    EXPECT_EQ(restored->topics(), md.topics());
    EXPECT_EQ(restored->version(), md.version());
    EXPECT_EQ(restored->next_group(), md.next_group());
    for (uint64_t g = 0; g <= md.next_group(); ++g) EXPECT_EQ(restored->locate_group(g), md.locate_group(g));
}

TEST(MetadataSnapshotTest, TheGroupCounterSurvivesRestore) {
    Metadata md = busy_metadata();
    auto restored = Metadata::restore(md.snapshot());
    ASSERT_TRUE(restored);
    apply_ok(md, create("new", 2, 2));
    apply_ok(*restored, create("new", 2, 2));
    // 6 + 4 + 5 + 2 before, "gone" included.
    EXPECT_EQ(restored->partition("new", 0)->group, 18u);
    // A topic grown after the restore grows alike on both.
    apply_ok(md, AddPartitions{"orders", 11});
    apply_ok(*restored, AddPartitions{"orders", 11});
    EXPECT_EQ(restored->partition("orders", 10)->group, 22u);
    EXPECT_EQ(restored->snapshot(), md.snapshot());
}

TEST(MetadataSnapshotTest, EmptyMetadataRoundTrips) {
    auto restored = Metadata::restore(Metadata{}.snapshot());
    ASSERT_TRUE(restored) << restored.error();
    EXPECT_EQ(restored->snapshot(), Metadata{}.snapshot());
    EXPECT_EQ(restored->next_group(), 1u);
}

// Replaces the first occurrence of `from` in `s`.
std::string replaced(std::string s, const std::string& from, const std::string& to) {
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? s : s.replace(at, from.size(), to);
}

TEST(MetadataSnapshotTest, RestoreRefusesMalformedOrInconsistentImages) {
    Metadata md = with_nodes(3);
    apply_ok(md, create("a", 2, 2));
    const std::string image = md.snapshot();
    ASSERT_NE(image.find(R"("replicas":[1,2])"), std::string::npos) << image;
    const std::pair<std::string, const char*> cases[] = {
        {"", "not valid JSON"},
        {"[]", "image: expected an object"},
        {replaced(image, R"("format":1)", R"("format":2)"), "unknown format 2"},
        {replaced(image, R"("next_group":3)", R"("next_group":"3")"),
         "image.next_group: expected an unsigned"},
        {replaced(image, R"("next_group":3)", R"("next_group":2)"), "group 2 is outside 1..1"},
        {replaced(image, R"("next_group":3)", R"("next_group":0)"), "next_group is 0"},
        {replaced(image, R"("replicas":[1,2])", R"("replicas":[1,9])"), "replica 9 is not a registered node"},
        {replaced(image, R"("replicas":[1,2])", R"("replicas":[1,1])"), "replica 1 appears twice"},
        {replaced(image, R"("replicas":[1,2])", R"("replicas":[1])"), "1 replicas for replication factor 2"},
        {replaced(image, R"("group":2)", R"("group":1)"), "group 1 is used twice"},
        {replaced(image, R"("partition":1)", R"("partition":5)"), "partition 1: numbered 5"},
        {replaced(image, R"("id":2)", R"("id":1)"), "duplicate node id 1"},
        {replaced(image, R"("id":2)", R"("id":0)"), "node id 0 is reserved"},
        {replaced(image, R"("name":"a")", R"("name":"a b")"), "topic name \"a b\""},
        {replaced(image, R"("configs":{})", R"("configs":{"x":"1"})"), "unknown config key \"x\""},
        {replaced(image, R"("version":)", R"("extra":0,"version":)"), "image: unknown field \"extra\""},
    };
    for (const auto& [text, error] : cases) {
        auto r = Metadata::restore(text);
        ASSERT_FALSE(r) << text;
        EXPECT_NE(r.error().find(error), std::string::npos) << text << "\n  gave: " << r.error();
    }
}

// A long random history, applied to two Metadata objects (one of them
// restarted from its snapshot now and then), leaves them identical.
TEST(MetadataSnapshotTest, TheSameCommandsGiveTheSameState) {
    testing::SeededRng rng(7);
    std::vector<MetadataCommand> history;
    for (int i = 0; i < 500; ++i) {
        std::string name = "t" + std::to_string(rng.range(0, 20));
        switch (rng.range(0, 6)) {
            case 0:
                history.push_back(RegisterNode{node(rng.range(1, 9))});
                break;
            case 1:
            case 2:
                history.push_back(create(name, static_cast<int32_t>(rng.range(1, 12)),
                                         static_cast<int32_t>(rng.range(1, 4))));
                break;
            case 3:
                history.push_back(DeleteTopic{name});
                break;
            case 4:
                history.push_back(AddPartitions{name, static_cast<int32_t>(rng.range(1, 16))});
                break;
            default:
                history.push_back(
                    SetTopicConfig{name, {{"retention.ms", std::to_string(rng.range(0, 99))}}, {}});
        }
    }
    Metadata a, b;
    for (size_t i = 0; i < history.size(); ++i) {
        // Through the codec, as a follower reads the log.
        auto decoded = decode_command(encode_command(history[i]));
        ASSERT_TRUE(decoded);
        EXPECT_EQ(a.apply(history[i]).has_value(), b.apply(decoded.value()).has_value());
        if (i % 50 == 49) {
            auto restarted = Metadata::restore(b.snapshot());
            ASSERT_TRUE(restarted) << restarted.error();
            b = std::move(restarted.value());
        }
    }
    EXPECT_GT(a.topics().size(), 3u);
    EXPECT_EQ(a.snapshot(), b.snapshot());
}

}  // namespace
}  // namespace fjord::cluster
