// The node-to-node transport: one persistent TCP connection per pair of nodes
// (the node with the lower id dials, the other accepts), carrying frames of
// many items each (see net/envelope.h). Every item queued for a peer while a
// write is in flight, or before the loop's next turn, goes out in one frame,
// so the messages and heartbeats of all Raft groups toward a peer share it.
//
// Delivery is best effort, as Raft expects: items for a peer that is not
// connected are dropped, and the sender's protocol retries. A frame that is
// oversized, truncated, garbled or from a node outside the cluster closes that
// one connection with a log line; the dialer reconnects with backoff.
//
// Everything runs on the caller's io_context thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/envelope.h"

namespace boost::asio {
class io_context;
}

namespace fjord::net {

struct PeerAddress {
    uint64_t id{0};
    std::string host;
    uint16_t port{0};
};

struct TransportConfig {
    uint64_t self{0};
    std::string cluster_id;
    std::string listen_host;
    uint16_t listen_port{0};
    std::vector<PeerAddress> peers;  // every other node of the cluster
    uint32_t max_frame_body = kMaxFrameBody;
    // Per peer; items beyond are dropped. Half the frame limit, so that a
    // frame of everything queued always fits it.
    size_t max_queued_bytes = kMaxFrameBody / 2;
};

struct TransportStats {
    uint64_t bytes_sent{0};
    uint64_t bytes_received{0};
    uint64_t frames_sent{0};
    uint64_t frames_received{0};
    uint64_t items_dropped{0};      // queued for a peer that was not connected or too slow
    uint64_t connection_errors{0};  // connects refused, resets, bad frames, refused hellos
};

class Transport {
  public:
    // Called on the loop thread with every item of one received frame.
    using Receive = std::function<void(uint64_t from, std::vector<Item>& items)>;

    Transport(boost::asio::io_context& io, TransportConfig config, Receive receive);
    ~Transport();
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    // Binds the listener and starts dialing; the error names the address.
    Result<uint16_t, std::string> start();
    void stop();

    void send(uint64_t to, Item item);
    bool connected(uint64_t peer) const;
    const TransportStats& stats() const;

  private:
    class Impl;
    std::shared_ptr<Impl> _impl;
};

}  // namespace fjord::net
