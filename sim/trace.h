// The last events of a run, kept in a ring and printed when a check fails, so
// a failing seed explains itself. Events are recorded as plain data and only
// formatted when printed: recording must stay cheap for the seed sweep.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "raft/types.h"

namespace fjord::sim {

enum class EventKind : uint8_t {
    deliver,
    drop,
    inject,
    role,
    propose,
    acked,
    membership,
    crash,
    restart,
    remove,
    partition,
    heal,
    snapshot,
    read_issued,
    read_done,
    transfer,
    phase,
};

struct Event {
    uint64_t time{0};
    EventKind kind{EventKind::phase};
    uint64_t node{0};
    uint64_t peer{0};
    uint64_t term{0};
    uint64_t index{0};
    uint64_t a{0};
    uint64_t b{0};
    raft::MessageType msg{raft::MessageType::heartbeat};
    bool flag{false};
    const char* text{""};  // static strings only
};

class Trace {
  public:
    explicit Trace(size_t capacity) : _capacity(capacity) {}

    void record(const Event& e);
    void set_echo(bool echo) { _echo = echo; }
    // The retained events, oldest first, one line each.
    std::string dump() const;
    static std::string format(const Event& e);

  private:
    size_t _capacity;
    size_t _next{0};
    bool _echo{false};
    std::vector<Event> _ring;
};

}  // namespace fjord::sim
