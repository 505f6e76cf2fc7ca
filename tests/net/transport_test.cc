// The node transport over real sockets on 127.0.0.1: delivery, coalescing,
// refusals, garbage, reconnects. Everything runs on one io_context driven by
// the test thread until a condition holds or a deadline passes.
#include "net/transport.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <functional>
#include <map>

#include "net/frame.h"

namespace fjord::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

uint16_t free_port() {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

class TransportTest : public ::testing::Test {
  protected:
    void SetUp() override {
        for (uint64_t id : {1, 2}) ports[id] = free_port();
    }

    std::unique_ptr<Transport> make(uint64_t self) {
        TransportConfig c;
        c.self = self;
        c.cluster_id = "test-cluster";
        c.listen_host = "127.0.0.1";
        c.listen_port = ports[self];
        for (auto [id, port] : ports) {
            if (id != self) c.peers.push_back({id, "127.0.0.1", port});
        }
        auto t = std::make_unique<Transport>(io, c, [this, self](uint64_t from, std::vector<Item>& items) {
            for (Item& item : items) received[self].emplace_back(from, std::move(item));
        });
        EXPECT_TRUE(t->start().has_value());
        return t;
    }

    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            io.run_for(5ms);
            io.restart();
        }
        return true;
    }

    // Sends raw bytes to node `to`'s listener and reports whether the node
    // closed the connection afterwards.
    bool closed_after_sending(uint64_t to, const std::string& bytes) {
        tcp::socket s(io);
        s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), ports[to]));
        asio::write(s, asio::buffer(bytes));
        bool closed = false;
        char buf[64];
        s.async_read_some(asio::buffer(buf),
                          [&](boost::system::error_code ec, size_t) { closed = ec.failed(); });
        return run_until([&] { return closed; });
    }

    asio::io_context io;
    std::map<uint64_t, uint16_t> ports;
    std::map<uint64_t, std::vector<std::pair<uint64_t, Item>>> received;
};

TEST_F(TransportTest, DeliversBothWaysOverOneConnection) {
    auto a = make(1);
    auto b = make(2);
    ASSERT_TRUE(run_until([&] { return a->connected(2) && b->connected(1); }));
    a->send(2, Item{ItemKind::raft, 7, "to two"});
    b->send(1, Item{ItemKind::node_status, 0, "to one"});
    ASSERT_TRUE(run_until([&] { return received[1].size() == 1 && received[2].size() == 1; }));
    EXPECT_EQ(received[2][0].first, 1u);
    EXPECT_EQ(received[2][0].second, (Item{ItemKind::raft, 7, "to two"}));
    EXPECT_EQ(received[1][0].second.payload, "to one");
}

TEST_F(TransportTest, ItemsQueuedInOneTurnShareOneFrame) {
    auto a = make(1);
    auto b = make(2);
    ASSERT_TRUE(run_until([&] { return a->connected(2) && b->connected(1); }));
    uint64_t frames_before = a->stats().frames_sent;
    for (uint64_t group = 0; group < 100; ++group) a->send(2, Item{ItemKind::raft, group, "heartbeat"});
    ASSERT_TRUE(run_until([&] { return received[2].size() == 100; }));
    EXPECT_EQ(a->stats().frames_sent - frames_before, 1u);
    for (uint64_t group = 0; group < 100; ++group) EXPECT_EQ(received[2][group].second.group, group);
}

TEST_F(TransportTest, ItemsForAnUnconnectedPeerAreDropped) {
    auto a = make(1);
    a->send(2, Item{ItemKind::raft, 1, "nobody listens"});
    EXPECT_EQ(a->stats().items_dropped, 1u);
}

TEST_F(TransportTest, RefusesNodesOutsideTheClusterAndKeepsServing) {
    auto b = make(2);
    std::string hello;
    append_frame(hello, encode_hello({9, 2, "test-cluster"}));
    EXPECT_TRUE(closed_after_sending(2, hello));
    std::string other_cluster;
    append_frame(other_cluster, encode_hello({1, 2, "another-cluster"}));
    EXPECT_TRUE(closed_after_sending(2, other_cluster));
    EXPECT_EQ(b->stats().connection_errors, 2u);

    auto a = make(1);
    ASSERT_TRUE(run_until([&] { return a->connected(2) && b->connected(1); }));
}

TEST_F(TransportTest, GarbageClosesOnlyThatConnection) {
    auto a = make(1);
    auto b = make(2);
    ASSERT_TRUE(run_until([&] { return a->connected(2) && b->connected(1); }));
    EXPECT_TRUE(closed_after_sending(2, std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
    EXPECT_TRUE(closed_after_sending(2, std::string("\xff\xff\xff\xff\x01garbage", 12)));  // 4 GiB length
    std::string bad_checksum;
    append_frame(bad_checksum, encode_hello({1, 2, "test-cluster"}));
    bad_checksum.back() ^= 1;
    EXPECT_TRUE(closed_after_sending(2, bad_checksum));
    a->send(2, Item{ItemKind::raft, 1, "still here"});
    ASSERT_TRUE(run_until([&] { return received[2].size() == 1; }));
    EXPECT_TRUE(b->connected(1));
}

TEST_F(TransportTest, DialerReconnectsAfterThePeerRestarts) {
    auto a = make(1);
    auto b = make(2);
    ASSERT_TRUE(run_until([&] { return a->connected(2); }));
    b.reset();
    ASSERT_TRUE(run_until([&] { return !a->connected(2); }));
    b = make(2);  // same port, bound again at once
    ASSERT_TRUE(run_until([&] { return a->connected(2) && b->connected(1); }));
    a->send(2, Item{ItemKind::raft, 3, "after restart"});
    ASSERT_TRUE(run_until([&] { return received[2].size() == 1; }));
}

}  // namespace
}  // namespace fjord::net
