// fjord-sim: runs the deterministic Raft simulation for one seed or a range.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "sim/simulation.h"

namespace {

using fjord::raft::Mutation;

const std::map<std::string, Mutation> mutations = {
    {"none", Mutation::none},
    {"commit-previous-term", Mutation::commit_previous_term_by_count},
    {"vote-twice", Mutation::vote_twice_in_term},
    {"ack-before-persist", Mutation::ack_before_persist},
    {"read-before-noop", Mutation::read_before_noop_commit},
};

// Cluster sizes cycle with the seed so that a range covers them all.
int nodes_for(uint64_t seed, int fixed) {
    static const int sizes[] = {3, 5, 7, 1};
    return fixed > 0 ? fixed : sizes[seed % 4];
}

std::string summary(const fjord::sim::Stats& s) {
    return fmt::format(
        "{} proposals ({} acknowledged), {} reads, {} leaders, {} crashes, {} partitions, {} membership "
        "changes, "
        "{} transfers, {} snapshots taken / {} installed, {} overlapped Readys, {} injected, {} messages",
        s.proposals, s.acked, s.reads, s.leaders, s.crashes, s.partitions, s.membership_changes, s.transfers,
        s.snapshots_taken, s.snapshots_installed, s.overlapped_readys, s.injected, s.messages);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"fjord-sim: the deterministic Raft simulator"};
    uint64_t seed = 1;
    std::string range;
    int nodes = 0;
    uint64_t steps = 20000;
    Mutation mutation = Mutation::none;
    bool expect_failure = false;
    bool trace = false;
    bool demo = false;
    app.add_option("--seed", seed, "run one seed");
    app.add_option("--seeds", range, "run a range of seeds, A-B");
    app.add_option("--nodes", nodes, "cluster size: 1, 3, 5 or 7 (default: cycles with the seed)")
        ->check(CLI::IsMember({1, 3, 5, 7}));
    app.add_option("--steps", steps, "simulated milliseconds of faults before the liveness phase");
    app.add_option("--mutant", mutation, "run a deliberately broken core")
        ->transform(CLI::CheckedTransformer(mutations, CLI::ignore_case));
    app.add_flag("--expect-failure", expect_failure,
                 "succeed only if some seed fails (for mutants); stops at the first");
    app.add_flag("--trace", trace, "print every event as it happens");
    app.add_flag("--demo", demo, "a short narrated run of a 5-node cluster");
    CLI11_PARSE(app, argc, argv);

    if (demo) {
        fjord::sim::Options o{.seed = 7, .nodes = 5, .steps = 4000, .narrate = true, .gentle = true};
        std::printf(
            "fjord-sim demo: 5 Raft nodes in one thread, simulated clock, network and disk.\n"
            "Faults for 4 simulated seconds (crashes, partitions, loss, membership changes), then the\n"
            "cluster must recover. Every step is checked for Raft's safety properties.\n\n");
        fjord::sim::Outcome r = fjord::sim::Simulation(o).run();
        std::printf("\n%s: %s\n", r.ok ? "all checks held" : "CHECK FAILED", summary(r.stats).c_str());
        if (!r.ok) std::printf("%s\n%s", r.failure.c_str(), r.trace.c_str());
        return r.ok ? 0 : 1;
    }

    uint64_t first = seed;
    uint64_t last = seed;
    if (!range.empty()) {
        if (std::sscanf(range.c_str(), "%lu-%lu", &first, &last) != 2 || first > last) {
            std::fprintf(stderr, "--seeds: expected A-B with A <= B, got '%s'\n", range.c_str());
            return 2;
        }
    }
    uint64_t passed = 0;
    uint64_t failed = 0;
    for (uint64_t s = first; s <= last; ++s) {
        fjord::sim::Options o{.seed = s,
                              .nodes = nodes_for(s, nodes),
                              .steps = steps,
                              .mutation = mutation,
                              .echo_trace = trace};
        fjord::sim::Outcome r = fjord::sim::Simulation(o).run();
        if (r.ok) {
            ++passed;
            if (first == last)
                std::printf("seed %lu (%d nodes): ok: %s\n", s, o.nodes, summary(r.stats).c_str());
            continue;
        }
        ++failed;
        std::printf("seed %lu (%d nodes): FAILED: %s\n", s, o.nodes, r.failure.c_str());
        if (expect_failure) break;
        if (failed == 1) {
            std::printf(
                "last events before the failure (rerun with --seed %lu --nodes %d --trace for all):\n%s", s,
                o.nodes, r.trace.c_str());
        }
    }
    if (first != last || failed > 0) {
        std::printf("seeds %lu-%lu: %lu passed, %lu failed\n", first, last, passed, failed);
    }
    if (expect_failure) return failed > 0 ? 0 : 1;
    return failed == 0 ? 0 : 1;
}
