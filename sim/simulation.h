// A whole Raft cluster in one thread, driven by one seed: simulated clock,
// network and disk, a client workload, and faults (loss, delay, duplication,
// reordering, partitions, crashes that lose what was not durable, stale and
// impossible messages). Every step is checked against Raft's safety
// properties; once the faults stop, the cluster must elect a leader, commit
// new proposals and converge within a bounded time (liveness).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/raft_log_store.h"
#include "raft/node.h"
#include "sim/checker.h"
#include "sim/network.h"
#include "sim/random.h"
#include "sim/state_machine.h"
#include "sim/trace.h"
#include "storage/sim_file_system.h"

namespace fjord::sim {

struct Options {
    uint64_t seed{1};
    int nodes{3};
    uint64_t steps{20000};          // simulated milliseconds of the fault phase
    uint64_t liveness_steps{4000};  // bound on recovery after faults stop
    raft::Mutation mutation{raft::Mutation::none};
    bool echo_trace{false};  // print every event as it happens
    bool narrate{false};     // print a readable story (the demo)
    bool gentle{false};      // rare, one-at-a-time faults instead of the seed's swarm profile
};

struct Stats {
    uint64_t proposals{0};
    uint64_t acked{0};
    uint64_t reads{0};
    uint64_t leaders{0};
    uint64_t crashes{0};
    uint64_t partitions{0};
    uint64_t snapshots_taken{0};
    uint64_t snapshots_installed{0};
    uint64_t overlapped_readys{0};  // taken by a leader while earlier ones were still syncing
    uint64_t membership_changes{0};
    uint64_t transfers{0};
    uint64_t messages{0};
    uint64_t injected{0};
};

struct Outcome {
    bool ok{true};
    std::string failure;  // empty when ok
    std::string trace;    // the last events before the failure
    Stats stats;
};

class Simulation {
  public:
    explicit Simulation(const Options& options);
    ~Simulation();
    Outcome run();

  private:
    // One simulated node: its durable storage survives crashes, the rest does not.
    struct SimNode {
        raft::NodeId id;
        explicit SimNode(uint64_t seed) : disk(seed) {}
        storage::SimFileSystem disk;                   // what survives a crash
        std::unique_ptr<cluster::RaftLogStore> store;  // the Raft log on `disk`; reopened at each start
        std::unique_ptr<raft::Node> core;              // null while down
        StateMachine sm;
        uint64_t life{0};
        bool removed{false};  // shut down for good after its removal committed
        bool was_member{false};
        uint64_t restart_at{0};
        uint64_t kill_at{0};     // a scheduled crash (0: none)
        uint64_t isolate_at{0};  // a scheduled isolation from every other node (0: none)
        uint64_t tick_phase{0};
        // Readys taken from the core, not yet durable, in the order taken. A
        // steady leader may have several (raft/node.h, rule 4); each is
        // durable at its `persist_at`, never before the one ahead of it.
        struct InFlight {
            raft::Ready ready;
            uint64_t persist_at;
            raft::Term term;
            bool by_leader;
        };
        std::deque<InFlight> persisting;
        raft::Index last_commit;
        raft::Role last_role{raft::Role::follower};
        raft::Term last_term;

        bool up() const { return core != nullptr; }
    };

    // The fault phase and the liveness phase.
    void step();
    bool converged(std::string& why);
    // Node lifecycle.
    SimNode& add_node(raft::NodeId id);
    void start(SimNode& n);
    void crash(SimNode& n, const char* why);
    void process(SimNode& n);
    bool may_take_ready(const SimNode& n) const;
    void finish_persist(SimNode& n, bool crash_before_send);
    void apply(SimNode& n, const raft::Ready& rd);
    void observe(SimNode& n);
    void send(const raft::Message& m);
    // Opens the node's log on its disk (recovering it); false after a failed check.
    bool open_store(SimNode& n);
    // A storage error in the simulator is a failed check: nothing may fail there.
    bool ok(SimNode& n, const storage::StorageResult<Ok>& r, const char* what);
    // Workload and faults (faults.cc).
    void client_requests();
    void inject_faults();
    void change_membership(SimNode& leader);
    void partition();
    void isolate(raft::NodeId node, const char* why);
    void inject_bad_input();
    void take_snapshot(SimNode& n);

    SimNode* leader();
    std::vector<SimNode*> up_nodes();
    void record(Event e);
    Event message_event(EventKind kind, const raft::Message& m) const;
    void narrate(const std::string& line);

    Options _options;
    Random _rng;
    Network _network;
    Trace _trace;
    Checker _checker;
    Stats _stats;
    raft::Config _raft_config;
    uint64_t _now{0};
    bool _faults_on{true};
    uint64_t _heal_at{0};
    uint64_t _next_node_id;
    uint64_t _next_read{1};
    // Swarm testing: each seed draws its own fault rates.
    uint64_t _crash_permille{0};
    uint64_t _leader_kill_permille{0};
    uint64_t _strand_permille{0};  // chance that a leader is cut off right after a proposal
    uint64_t _partition_permille{0};
    uint64_t _membership_permille{0};
    uint64_t _snapshot_permille{0};
    uint64_t _transfer_permille{0};
    uint64_t _inject_permille{0};
    uint64_t _propose_permille{0};
    uint64_t _read_permille{0};
    NetworkFaults _fault_network;

    std::map<uint64_t, std::unique_ptr<SimNode>> _nodes;  // ordered: iteration must be deterministic
    struct Proposal {
        uint64_t node;
        uint64_t life;
        raft::Index index;
        raft::Term term;
    };
    std::vector<Proposal> _pending;  // proposed, not yet acknowledged
    raft::Index _max_acked;
    struct PendingRead {
        uint64_t node;
        uint64_t life;
        raft::Index required;
    };
    std::map<uint64_t, PendingRead> _reads;
    uint64_t _acked_after_heal{0};
};

}  // namespace fjord::sim
