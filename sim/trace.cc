#include "sim/trace.h"

#include <fmt/format.h>

#include <cstdio>

namespace fjord::sim {

void Trace::record(const Event& e) {
    if (_echo) std::printf("%s\n", format(e).c_str());
    if (_ring.size() < _capacity) {
        _ring.push_back(e);
    } else {
        _ring[_next] = e;
    }
    _next = (_next + 1) % _capacity;
}

std::string Trace::dump() const {
    std::string out;
    size_t start = _ring.size() < _capacity ? 0 : _next;
    for (size_t i = 0; i < _ring.size(); ++i) {
        out += format(_ring[(start + i) % _ring.size()]);
        out += '\n';
    }
    return out;
}

std::string Trace::format(const Event& e) {
    std::string head = fmt::format("t={:>6} ", e.time);
    switch (e.kind) {
        case EventKind::deliver:
        case EventKind::drop:
        case EventKind::inject:
            return head + fmt::format("{} {}->{} {} term={} idx={} commit={} entries={}{}",
                                      e.kind == EventKind::deliver ? "deliver"
                                      : e.kind == EventKind::drop  ? "drop   "
                                                                   : "inject ",
                                      e.node, e.peer, raft::to_string(e.msg), e.term, e.index, e.a, e.b,
                                      e.flag ? " reject" : "");
        case EventKind::role:
            return head + fmt::format("node {} becomes {} in term {} (last index {}, commit {})", e.node,
                                      e.text, e.term, e.index, e.a);
        case EventKind::propose:
            return head + fmt::format("node {} proposes index {} (span {}) in term {}", e.node, e.index, e.a,
                                      e.term);
        case EventKind::acked:
            return head +
                   fmt::format("node {} acknowledges index {} term {} as committed", e.node, e.index, e.term);
        case EventKind::membership:
            return head +
                   fmt::format("node {} proposes {} of node {} at index {}", e.node, e.text, e.peer, e.index);
        case EventKind::crash:
            return head + fmt::format("node {} crashes ({})", e.node, e.text);
        case EventKind::restart:
            return head + fmt::format("node {} restarts", e.node);
        case EventKind::remove:
            return head + fmt::format("node {} shut down for good (removed)", e.node);
        case EventKind::partition:
            return head + fmt::format("partition: {} (node {})", e.text, e.node);
        case EventKind::heal:
            return head + "network healed";
        case EventKind::snapshot:
            return head + fmt::format("node {} {} snapshot at index {}", e.node, e.text, e.index);
        case EventKind::read_issued:
            return head + fmt::format("read {} issued at node {} ({}), must see index >= {}", e.a, e.node,
                                      e.text, e.index);
        case EventKind::read_done:
            return head + fmt::format("read {} at node {} got index {}", e.a, e.node, e.index);
        case EventKind::transfer:
            return head + fmt::format("node {} transfers leadership to node {}", e.node, e.peer);
        case EventKind::phase:
            return head + fmt::format("--- {} ---", e.text);
    }
    return head;
}

}  // namespace fjord::sim
