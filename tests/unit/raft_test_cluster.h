// A tiny deterministic driver for unit tests of the Raft core: N nodes, each
// with its own MemoryStorage, one FIFO message queue, and a synchronous driver
// that persists every Ready before sending its messages (node.h's contract).
//
// Nodes 1..voters are founding voters, bootstrapped with a snapshot at index 0
// that carries the membership; nodes voters+1..voters+extra start empty (not
// members) and can be added with membership changes.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "raft/memory_storage.h"
#include "raft/node.h"

// Readable gtest failure messages for the core's types.
namespace fjord {
template <typename Tag>
void PrintTo(const Tagged<Tag>& t, std::ostream* os) {
    *os << t.value;
}
}  // namespace fjord

namespace fjord::raft {
void PrintTo(const Entry& e, std::ostream* os);
void PrintTo(const EntryId& e, std::ostream* os);
void PrintTo(const Membership& m, std::ostream* os);
}  // namespace fjord::raft

namespace fjord::raft::test {

inline NodeId nid(uint64_t v) {
    return NodeId{v};
}
inline Index idx(uint64_t v) {
    return Index{v};
}
inline Term trm(uint64_t v) {
    return Term{v};
}

Membership voters_of(std::initializer_list<uint64_t> ids);
Entry make_entry(uint64_t index, uint64_t term, uint32_t span = 1, std::string data = "",
                 EntryType type = EntryType::normal);

struct TestNode {
    Config config;
    std::unique_ptr<MemoryStorage> storage;
    std::unique_ptr<Node> node;
    bool up = true;
    // The state machine: entries applied since the last snapshot install (or
    // since the start), in order, and the snapshot applied last, if any.
    std::vector<Entry> applied;
    std::shared_ptr<const Snapshot> applied_snapshot;
    Index applied_index;  // last offset applied (snapshot index or entry index)
    std::vector<ReadState> read_states;
};

class Cluster {
  public:
    using Tweak = std::function<void(Config&)>;
    // Returns true to drop the message.
    using Filter = std::function<bool(const Message&)>;

    explicit Cluster(size_t voters, size_t extra = 0, const Tweak& tweak = {});

    size_t size() const { return _nodes.size(); }
    TestNode& peer(uint64_t id) { return _nodes.at(id); }
    Node& node(uint64_t id) { return *_nodes.at(id).node; }
    MemoryStorage& storage(uint64_t id) { return *_nodes.at(id).storage; }
    std::vector<uint64_t> ids() const;

    // One round: every running node ticks once, then deliver_all().
    void tick_all(int rounds = 1);
    // Ticks one node `rounds` times, delivering after each tick.
    void tick(uint64_t id, int rounds = 1);
    // Takes and carries out every Ready and delivers every message (subject to
    // the partition and the filter) until nothing moves.
    void deliver_all();
    // Takes and carries out the Ready of every running node, queueing messages,
    // without delivering anything. Returns whether any node had a Ready.
    bool process_readies();
    // Delivers the queued messages that are there now (not those they cause).
    void deliver_queued();

    // Drives `id` to leadership deterministically: it is sent the timeout-now
    // that leadership transfer uses, so it campaigns at once and its vote
    // requests bypass leader leases. Retried a few times (a stale term loses
    // the first round). Returns whether it became leader.
    bool elect(uint64_t id);
    // The running node that is leader in the highest term, or 0.
    uint64_t leader() const;
    size_t leader_count() const;

    Result<Index, Error> propose(uint64_t id, std::string data, uint32_t span = 1) {
        return node(id).propose(std::move(data), span);
    }

    // Partitions.
    void isolate(uint64_t id) { _isolated.insert(id); }
    void cut(uint64_t from, uint64_t to) { _cut.insert({from, to}); }
    void heal() {
        _isolated.clear();
        _cut.clear();
        filter = nullptr;
    }
    Filter filter;

    // Crash: the node stops and loses nothing (every Ready it took was
    // persisted synchronously). Restart rebuilds it from its storage.
    void crash(uint64_t id);
    void restart(uint64_t id);

    // Every message a node emitted (before partitions/filters), and every
    // message actually stepped into a node.
    std::vector<Message> emitted;
    std::vector<Message> delivered;
    size_t count_delivered(MessageType type, uint64_t from, uint64_t to, bool reject_only = false) const;

    // Entries applied by `id` with index > after.
    std::vector<Entry> applied_after(uint64_t id, Index after) const;

  private:
    void process(TestNode& tn);
    bool dropped(const Message& m) const;

    std::map<uint64_t, TestNode> _nodes;
    std::deque<Message> _queue;
    std::set<uint64_t> _isolated;
    std::set<std::pair<uint64_t, uint64_t>> _cut;
    // Safety check across nodes: the entry applied at each index.
    std::map<uint64_t, Entry> _applied_by_index;
};

// A single node driven by hand, for message-level tests.
struct SoloNode {
    SoloNode(uint64_t id, const Membership& m, const Cluster::Tweak& tweak = {});
    Config config;
    std::unique_ptr<MemoryStorage> storage;
    std::unique_ptr<Node> node;
    // Takes the Ready, persists it, and advances.
    Ready ready();
};

}  // namespace fjord::raft::test
