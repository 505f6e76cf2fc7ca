#include "kv/redis_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <deque>
#include <utility>

#include "kv/commands.h"
#include "kv/kv_service.h"
#include "kv/resp.h"
#include "net/tcp_listener.h"

namespace fjord::kv {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kMaxInFlight = 1024;       // commands read but not yet answered
constexpr size_t kMaxReadyBytes = 1 << 20;  // answers encoded but not yet being written
constexpr size_t kReadBytes = 64 << 10;

}  // namespace

class RedisConnection : public std::enable_shared_from_this<RedisConnection> {
  public:
    RedisConnection(tcp::socket socket, KvService& service)
        : _socket(std::move(socket)),
          _service(service),
          _room(_socket.get_executor()),
          _peer(net::peer_of(_socket)),
          _session(service.new_session()) {
        _room.expires_at(asio::steady_timer::time_point::max());
    }

    asio::awaitable<void> serve() {
        auto self = shared_from_this();
        _service.connection_opened();
        boost::system::error_code ec;
        _socket.set_option(tcp::no_delay(true), ec);
        std::string buffer;
        size_t parsed = 0;  // bytes of `buffer` already consumed
        auto chunk = std::make_unique<char[]>(kReadBytes);
        bool more_buffered = false;  // commands left in `buffer` when the in-flight limit was hit
        while (!_closed) {
            while (full() && !_closed) co_await _room.async_wait(use_tuple);
            if (_closed) break;
            if (!more_buffered) {
                auto [rec, n] =
                    co_await _socket.async_read_some(asio::buffer(chunk.get(), kReadBytes), use_tuple);
                buffer.append(chunk.get(), n);
                if (rec) {
                    close(rec == asio::error::eof ? "" : rec.message());
                    break;
                }
            }
            more_buffered = false;
            // One reading of the clock for the reads answered from this buffer.
            int64_t wall_now = KvService::wall_ms();
            while (!_closed) {
                if (full()) {
                    more_buffered = parsed < buffer.size();
                    break;
                }
                CommandParse p = parse_command(std::string_view(buffer).substr(parsed));
                if (p.status == ParseStatus::incomplete) break;
                if (p.status == ParseStatus::error) {
                    answer_then_close(Reply::error(p.error), "protocol error: " + p.error);
                    break;
                }
                parsed += p.consumed;
                if (!p.command.empty()) dispatch(std::move(p.command), wall_now);
            }
            // Keep only the unparsed tail.
            buffer.erase(0, parsed);
            parsed = 0;
        }
        _session->closed = true;
        _service.connection_closed();
    }

    void stop() { close(""); }

  private:
    // Reading stops while this holds, until answers are written: a client
    // that sends without reading cannot make the node buffer without bound.
    bool full() const {
        return _slots.size() >= kMaxInFlight || _ready.size() + _slot_bytes >= kMaxReadyBytes;
    }
    // Answer bytes this connection holds: being written, given at once, and
    // encoded behind a command that still waits.
    size_t held() const { return _writing_bytes + _ready.size() + _slot_bytes; }

    // A command waiting for its answer, or answered behind one that waits.
    struct Slot {
        uint64_t id;
        bool answered{false};
        std::string encoded;  // the answer in RESP, once answered
        bool close_after{false};
    };

    void dispatch(Command command, int64_t wall_now) {
        uint64_t id = _next_id++;
        bool quit = command.size() == 1 && upper(command[0]) == "QUIT";
        // An answer ready now goes straight into the output when nothing
        // before it waits (the common case of a pipeline of reads).
        std::string behind;  // an answer that must wait for the slots before it
        std::string& out = _slots.empty() ? _ready : behind;
        if (!quit && _service.answer_now(*_session, command, wall_now, out)) {
            if (&out == &behind) {
                _slot_bytes += behind.size();
                _slots.push_back(Slot{id, true, std::move(behind), false});
            }
            _service.output_held(held());
            post_flush();
            return;
        }
        _slots.push_back(Slot{id, false, {}, quit});
        _service.execute(_session, std::move(command),
                         [self = shared_from_this(), id](Reply r) { self->complete(id, r); });
    }

    void answer_then_close(const Reply& reply, const std::string& why) {
        spdlog::warn("redis: closing connection from {}: {}", _peer, why);
        Slot slot{_next_id++, true, {}, true};
        encode_reply(reply, slot.encoded);
        _slot_bytes += slot.encoded.size();
        _slots.push_back(std::move(slot));
        _service.output_held(held());
        flush();
    }

    void complete(uint64_t id, const Reply& reply) {
        for (Slot& s : _slots) {
            if (s.id == id) {
                encode_reply(reply, s.encoded);
                s.answered = true;
                _slot_bytes += s.encoded.size();
                _service.output_held(held());
                break;
            }
        }
        post_flush();
    }

    // Replies completed in one turn of the loop (a pipeline's, typically) share one write.
    void post_flush() {
        if (_flush_posted) return;
        _flush_posted = true;
        asio::post(_socket.get_executor(), [self = shared_from_this()] {
            self->_flush_posted = false;
            self->flush();
        });
    }

    // Writes the answers ready in order: those given while nothing waited,
    // then every answered command at the head of the queue.
    void flush() {
        if (_writing || _closed) return;
        std::string out = std::exchange(_ready, {});
        bool close_after = false;
        while (!_slots.empty() && _slots.front().answered) {
            out += _slots.front().encoded;
            _slot_bytes -= _slots.front().encoded.size();
            close_after = _slots.front().close_after;
            _slots.pop_front();
            if (close_after) break;
        }
        _room.cancel();
        if (out.empty()) return;
        _writing = true;
        _writing_bytes = out.size();
        auto buffer = std::make_shared<std::string>(std::move(out));
        asio::async_write(
            _socket, asio::buffer(*buffer),
            [self = shared_from_this(), buffer, close_after](boost::system::error_code ec, size_t) {
                self->_writing = false;
                self->_writing_bytes = 0;
                if (ec) return self->close("write failed: " + ec.message());
                if (close_after) return self->close("");
                self->flush();
            });
    }

    void close(const std::string& why) {
        if (_closed) return;
        _closed = true;
        _session->closed = true;
        if (!why.empty()) spdlog::warn("redis: closing connection from {}: {}", _peer, why);
        boost::system::error_code ec;
        _socket.close(ec);
        _room.cancel();
    }

    tcp::socket _socket;
    KvService& _service;
    asio::steady_timer _room;  // wakes the reader when the in-flight queue shrinks
    std::string _peer;
    std::shared_ptr<Session> _session;
    std::deque<Slot> _slots;
    std::string _ready;        // answers that were given while no slot waited, in RESP, not yet written
    size_t _slot_bytes{0};     // encoded answers in _slots
    size_t _writing_bytes{0};  // the write in progress
    uint64_t _next_id{0};
    bool _writing{false};
    bool _flush_posted{false};
    bool _closed{false};
};

class RedisServer::Impl : public net::TcpListener<RedisConnection> {
  public:
    Impl(asio::io_context& io, KvService& service)
        : TcpListener(io, "redis", [&service](tcp::socket socket) {
              return std::make_shared<RedisConnection>(std::move(socket), service);
          }) {}
};

RedisServer::RedisServer(asio::io_context& io, KvService& service)
    : _impl(std::make_shared<Impl>(io, service)) {}

RedisServer::~RedisServer() {
    _impl->stop();
}

Result<uint16_t, std::string> RedisServer::listen(const std::string& host, uint16_t port) {
    return _impl->listen(host, port);
}

void RedisServer::stop() {
    _impl->stop();
}

}  // namespace fjord::kv
