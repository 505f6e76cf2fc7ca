// The controller's state machine: its image is the metadata, and restoring
// one replaces the metadata and tells the node, so that the controller's log
// can be compacted and a lagging node caught up by a snapshot.
#include "cluster/controller.h"

#include <gtest/gtest.h>

#include <string>

namespace fjord::cluster {
namespace {

raft::Entry entry(uint64_t index, const MetadataCommand& command) {
    raft::Entry e;
    e.index = raft::Index{index};
    e.term = raft::Term{1};
    e.data = Controller::encode_entry(command, 0);
    return e;
}

NodeInfo node(uint64_t id) {
    return NodeInfo{id, "127.0.0.1:" + std::to_string(9000 + id), "", "", ""};
}

// A controller that has applied three nodes and two topics.
void populate(Controller& c) {
    uint64_t index = 0;
    for (uint64_t id = 1; id <= 3; ++id) c.apply(entry(++index, RegisterNode{node(id)}));
    c.apply(entry(++index, CreateTopic{"orders", 3, 3, {{"retention.ms", "60000"}}}));
    c.apply(entry(++index, CreateTopic{"events", 1, 2, {}}));
}

TEST(ControllerTest, AnImageRestoresTheSameMetadataAndTellsTheNode) {
    Controller source([] {});
    populate(source);
    ASSERT_TRUE(source.has_image());
    int changes = 0;
    Controller copy([&changes] { ++changes; });
    ASSERT_TRUE(copy.restore(source.image()));
    EXPECT_EQ(changes, 1);
    EXPECT_EQ(copy.metadata().snapshot(), source.metadata().snapshot());
    EXPECT_EQ(copy.metadata().version(), source.metadata().version());
    ASSERT_NE(copy.metadata().topic("orders"), nullptr);
    EXPECT_EQ(copy.metadata().topic("orders")->partitions.size(), 3u);
    EXPECT_EQ(copy.metadata().nodes().size(), 3u);
    // Commands after the image apply on top of it as they did on the source.
    source.apply(entry(6, DeleteTopic{"events"}));
    copy.apply(entry(6, DeleteTopic{"events"}));
    EXPECT_EQ(copy.metadata().snapshot(), source.metadata().snapshot());
    EXPECT_EQ(copy.metadata().topic("events"), nullptr);
}

TEST(ControllerTest, AMalformedImageIsRefusedAndChangesNothing) {
    int changes = 0;
    Controller c([&changes] { ++changes; });
    populate(c);
    std::string before = c.metadata().snapshot();
    changes = 0;
    EXPECT_FALSE(c.restore("not json"));
    EXPECT_FALSE(c.restore(R"({"format":1,"version":1,"next_group":1,"nodes":[],"topics":[{"name":"t"}]})"));
    EXPECT_EQ(c.metadata().snapshot(), before);
    EXPECT_EQ(changes, 0);
}

}  // namespace
}  // namespace fjord::cluster
