#include "net/transport.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <map>

#include "net/frame.h"

namespace fjord::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kMinBackoff = 50ms;
constexpr auto kMaxBackoff = 1000ms;
constexpr auto kConnectTimeout = 2s;
constexpr auto kHelloTimeout = 5s;
// A hello is a few dozen bytes: a stranger must not make us reserve a
// full frame's worth of memory before it has said who it is.
constexpr uint32_t kMaxHelloBody = 4096;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string endpoint_of(const tcp::socket& s) {
    boost::system::error_code ec;
    auto ep = s.remote_endpoint(ec);
    return ec ? std::string("unknown peer") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

class Transport::Impl : public std::enable_shared_from_this<Impl> {
  public:
    Impl(asio::io_context& io, TransportConfig config, Receive receive)
        : _io(io), _config(std::move(config)), _receive(std::move(receive)), _acceptor(io) {
        for (const PeerAddress& p : _config.peers) _peers.emplace(p.id, Peer{p, io});
    }

    Result<uint16_t, std::string> start() {
        std::string where = _config.listen_host + ":" + std::to_string(_config.listen_port);
        boost::system::error_code ec;
        auto address = asio::ip::make_address(_config.listen_host, ec);
        if (ec) return make_unexpected("rpc address " + where + ": " + ec.message());
        tcp::endpoint endpoint(address, _config.listen_port);
        _acceptor.open(endpoint.protocol(), ec);
        if (!ec) _acceptor.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) _acceptor.bind(endpoint, ec);
        if (!ec) _acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) return make_unexpected("cannot listen on rpc address " + where + ": " + ec.message());
        uint16_t port = _acceptor.local_endpoint().port();
        asio::co_spawn(_io, accept_loop(), asio::detached);
        for (auto& [id, peer] : _peers) {
            if (_config.self < id) asio::co_spawn(_io, dial_loop(id), asio::detached);
        }
        return port;
    }

    void stop() {
        if (_stopped) return;
        _stopped = true;
        boost::system::error_code ec;
        _acceptor.close(ec);
        for (auto& [id, peer] : _peers) {
            peer.backoff.cancel();
            if (peer.conn) close(peer, peer.conn, "");
        }
    }

    void send(uint64_t to, Item item) {
        auto it = _peers.find(to);
        if (it == _peers.end() || !it->second.conn ||
            it->second.queued_bytes + item.payload.size() > _config.max_queued_bytes) {
            ++_stats.items_dropped;
            return;
        }
        Peer& peer = it->second;
        peer.queued_bytes += item.payload.size();
        peer.queue.push_back(std::move(item));
        if (peer.writing) return;
        peer.writing = true;
        // Deferred to the loop's next turn, so that everything queued in this
        // one (all groups' messages and heartbeats) shares the frame.
        asio::post(_io, [self = shared_from_this(), to] { self->write_queued(to); });
    }

    bool connected(uint64_t peer) const {
        auto it = _peers.find(peer);
        return it != _peers.end() && it->second.conn != nullptr;
    }

    const TransportStats& stats() const { return _stats; }

  private:
    struct Connection {
        explicit Connection(tcp::socket s) : socket(std::move(s)) {}
        tcp::socket socket;
    };
    struct Peer {
        Peer(PeerAddress a, asio::io_context& io) : address(std::move(a)), backoff(io) {}
        PeerAddress address;
        std::shared_ptr<Connection> conn;
        std::vector<Item> queue;
        size_t queued_bytes{0};
        bool writing{false};
        asio::steady_timer backoff;
    };

    void write_queued(uint64_t to) {
        Peer& peer = _peers.at(to);
        if (!peer.conn || peer.queue.empty()) {
            peer.writing = false;
            return;
        }
        auto frame = std::make_shared<std::string>();
        size_t start = start_frame(*frame);
        BatchWriter batch(*frame, _config.self);
        for (const Item& item : peer.queue) batch.add(item.kind, item.group, item.payload);
        finish_frame(*frame, start);
        peer.queue.clear();
        peer.queued_bytes = 0;
        asio::async_write(
            peer.conn->socket, asio::buffer(*frame),
            [self = shared_from_this(), to, frame, conn = peer.conn](boost::system::error_code ec, size_t n) {
                Peer& p = self->_peers.at(to);
                if (ec) {
                    p.writing = false;
                    if (p.conn == conn) {
                        self->close(p, conn, "write failed: " + ec.message());
                    } else if (p.conn && !p.queue.empty()) {
                        p.writing = true;  // items queued for the new connection
                        self->write_queued(to);
                    }
                    return;
                }
                self->_stats.bytes_sent += n;
                ++self->_stats.frames_sent;
                self->write_queued(to);
            });
    }

    // Reads one frame body; the error says what was wrong with it.
    asio::awaitable<Result<std::string, std::string>> read_frame(tcp::socket& socket, uint32_t max_body) {
        char header[kFrameHeaderSize];
        auto [ec, n] = co_await asio::async_read(socket, asio::buffer(header), use_tuple);
        if (ec)
            co_return make_unexpected(ec == asio::error::eof ? std::string("closed by peer") : ec.message());
        auto parsed = parse_frame_header(header, max_body);
        if (!parsed) co_return make_unexpected("bad frame header: " + std::string(to_string(parsed.error())));
        std::string body(parsed->body_size, '\0');
        auto [ec2, n2] = co_await asio::async_read(socket, asio::buffer(body), use_tuple);
        if (ec2) co_return make_unexpected("truncated frame: " + ec2.message());
        auto checked = check_frame_body(*parsed, body);
        if (!checked) co_return make_unexpected("bad frame: " + std::string(to_string(checked.error())));
        _stats.bytes_received += n + n2;
        ++_stats.frames_received;
        co_return body;
    }

    asio::awaitable<void> read_loop(std::shared_ptr<Connection> conn, uint64_t peer_id) {
        auto self = shared_from_this();
        for (;;) {
            auto body = co_await read_frame(conn->socket, _config.max_frame_body);
            Peer& peer = _peers.at(peer_id);
            if (peer.conn != conn) co_return;  // replaced or closed meanwhile
            if (!body) {
                close(peer, conn, body.error());
                co_return;
            }
            auto decoded = decode_body(*body);
            if (!decoded || !std::holds_alternative<Batch>(*decoded) ||
                std::get<Batch>(*decoded).from != peer_id) {
                close(peer, conn, decoded ? "unexpected frame" : "garbled frame: " + decoded.error());
                co_return;
            }
            if (!_stopped) _receive(peer_id, std::get<Batch>(*decoded).items);
        }
    }

    asio::awaitable<void> accept_loop() {
        auto self = shared_from_this();
        while (!_stopped) {
            auto [ec, socket] = co_await _acceptor.async_accept(use_tuple);
            if (ec) {
                if (_stopped) co_return;
                spdlog::warn("rpc: accept failed: {}", ec.message());
                continue;
            }
            asio::co_spawn(_io, handshake(std::move(socket)), asio::detached);
        }
    }

    // The accepting side: the first frame must be a Hello from a lower-id
    // member of this cluster, addressed to us.
    asio::awaitable<void> handshake(tcp::socket socket) {
        auto self = shared_from_this();
        auto conn = std::make_shared<Connection>(std::move(socket));
        std::string remote = endpoint_of(conn->socket);
        asio::steady_timer deadline(_io, kHelloTimeout);
        deadline.async_wait([conn](boost::system::error_code ec) {
            if (!ec) conn->socket.close(ec);
        });
        auto body = co_await read_frame(conn->socket, kMaxHelloBody);
        deadline.cancel();
        std::string refusal;
        uint64_t from = 0;
        if (!body) {
            refusal = body.error();
        } else if (auto decoded = decode_body(*body); !decoded) {
            refusal = "garbled hello: " + decoded.error();
        } else if (!std::holds_alternative<Hello>(*decoded)) {
            refusal = "first frame is not a hello";
        } else {
            const Hello& hello = std::get<Hello>(*decoded);
            from = hello.from;
            refusal = check_hello(hello);
        }
        if (_stopped) refusal = "the transport is stopping";
        if (!refusal.empty()) {
            ++_stats.connection_errors;
            spdlog::warn("rpc: refusing connection from {}: {}", remote, refusal);
            boost::system::error_code ignored;
            conn->socket.close(ignored);
            co_return;
        }
        attach(from, conn);
        co_await read_loop(conn, from);
    }

    std::string check_hello(const Hello& hello) const {
        if (hello.cluster_id != _config.cluster_id)
            return "cluster id '" + hello.cluster_id + "' is not ours ('" + _config.cluster_id + "')";
        if (hello.to != _config.self)
            return "addressed to node " + std::to_string(hello.to) + ", this is node " +
                   std::to_string(_config.self);
        if (!_peers.contains(hello.from))
            return "node " + std::to_string(hello.from) + " is not in the cluster";
        if (hello.from > _config.self)
            return "node " + std::to_string(hello.from) + " must wait for this node to dial it";
        return {};
    }

    asio::awaitable<void> dial_loop(uint64_t peer_id) {
        auto self = shared_from_this();
        auto backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kMinBackoff);
        while (!_stopped) {
            Peer& peer = _peers.at(peer_id);
            auto conn = co_await dial(peer.address);
            if (conn && _stopped) {
                boost::system::error_code ignored;
                conn->socket.close(ignored);
                co_return;
            }
            if (conn) {
                backoff = kMinBackoff;
                attach(peer_id, conn);
                co_await read_loop(conn, peer_id);
            }
            if (_stopped) co_return;
            Peer& again = _peers.at(peer_id);
            again.backoff.expires_after(backoff);
            co_await again.backoff.async_wait(use_tuple);
            backoff =
                std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kMaxBackoff));
        }
    }

    asio::awaitable<std::shared_ptr<Connection>> dial(const PeerAddress& address) {
        tcp::resolver resolver(_io);
        auto [rec, endpoints] =
            co_await resolver.async_resolve(address.host, std::to_string(address.port), use_tuple);
        if (rec) co_return nullptr;
        auto conn = std::make_shared<Connection>(tcp::socket(_io));
        asio::steady_timer deadline(_io, kConnectTimeout);
        deadline.async_wait([conn](boost::system::error_code ec) {
            if (!ec) conn->socket.close(ec);
        });
        auto [cec, ep] = co_await asio::async_connect(conn->socket, endpoints, use_tuple);
        if (cec) {
            deadline.cancel();
            co_return nullptr;
        }
        std::string hello;
        append_frame(hello, encode_hello({_config.self, address.id, _config.cluster_id}));
        auto [wec, n] = co_await asio::async_write(conn->socket, asio::buffer(hello), use_tuple);
        deadline.cancel();
        if (wec) co_return nullptr;
        _stats.bytes_sent += n;
        co_return conn;
    }

    void attach(uint64_t peer_id, const std::shared_ptr<Connection>& conn) {
        boost::system::error_code ec;
        conn->socket.set_option(tcp::no_delay(true), ec);
        Peer& peer = _peers.at(peer_id);
        if (peer.conn) close(peer, peer.conn, "replaced by a new connection");
        peer.conn = conn;
        spdlog::info("rpc: connected to node {} ({})", peer_id, endpoint_of(conn->socket));
    }

    void close(Peer& peer, const std::shared_ptr<Connection>& conn, const std::string& why) {
        if (!why.empty() && !_stopped) {
            ++_stats.connection_errors;
            spdlog::warn("rpc: connection to node {} closed: {}", peer.address.id, why);
        }
        boost::system::error_code ec;
        conn->socket.close(ec);
        if (peer.conn == conn) {
            peer.conn.reset();
            _stats.items_dropped += peer.queue.size();
            peer.queue.clear();
            peer.queued_bytes = 0;
        }
    }

    asio::io_context& _io;
    TransportConfig _config;
    Receive _receive;
    tcp::acceptor _acceptor;
    std::map<uint64_t, Peer> _peers;
    TransportStats _stats;
    bool _stopped{false};
};

Transport::Transport(asio::io_context& io, TransportConfig config, Receive receive)
    : _impl(std::make_shared<Impl>(io, std::move(config), std::move(receive))) {}

Transport::~Transport() {
    _impl->stop();
}

Result<uint16_t, std::string> Transport::start() {
    return _impl->start();
}

void Transport::stop() {
    _impl->stop();
}

void Transport::send(uint64_t to, Item item) {
    _impl->send(to, std::move(item));
}

bool Transport::connected(uint64_t peer) const {
    return _impl->connected(peer);
}

const TransportStats& Transport::stats() const {
    return _impl->stats();
}

}  // namespace fjord::net
