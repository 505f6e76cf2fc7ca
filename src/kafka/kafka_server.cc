#include "kafka/kafka_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <deque>
#include <set>

#include "kafka/api.h"
#include "net/tcp_listener.h"

namespace fjord::kafka {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr uint32_t kMaxRequestBytes = 100u << 20;  // Kafka's socket.request.max.bytes
constexpr size_t kMaxInFlight = 1024;              // requests read but not yet answered
constexpr size_t kFirstReadBytes = 64 << 10;

}  // namespace

// One client connection: requests in, responses out in request order.
class Connection : public std::enable_shared_from_this<Connection> {
  public:
    Connection(tcp::socket socket, RequestHandler& handler)
        : _socket(std::move(socket)),
          _handler(handler),
          _room(_socket.get_executor()),
          _peer(net::peer_of(_socket)) {
        _room.expires_at(asio::steady_timer::time_point::max());
    }

    asio::awaitable<void> serve() {
        auto self = shared_from_this();
        boost::system::error_code ec;
        _socket.set_option(tcp::no_delay(true), ec);
        for (;;) {
            while (_slots.size() >= kMaxInFlight && !_closed) co_await _room.async_wait(use_tuple);
            if (_closed) co_return;
            char size_bytes[4];
            auto [rec, n] = co_await asio::async_read(_socket, asio::buffer(size_bytes), use_tuple);
            if (rec) co_return close(rec == asio::error::eof ? "" : rec.message());
            uint32_t size = be::load32(size_bytes);
            if (size < 8 || size > kMaxRequestBytes) {
                co_return close("request size " + std::to_string(size) + " is outside 8.." +
                                std::to_string(kMaxRequestBytes));
            }
            // The buffer grows as the bytes arrive, so that a size prefix alone
            // does not make us reserve up to 100 MiB.
            auto request = std::make_shared<std::string>();
            while (request->size() < size) {
                size_t have = request->size();
                request->resize(std::min<size_t>(size, std::max<size_t>(kFirstReadBytes, have * 2)));
                auto [bec, m] = co_await asio::async_read(
                    _socket, asio::buffer(request->data() + have, request->size() - have), use_tuple);
                if (bec) co_return close("truncated request: " + bec.message());
            }
            if (!dispatch(request)) co_return;
        }
    }

    void stop() { close(""); }

  private:
    struct Slot {
        uint64_t id;
        int32_t correlation_id;
        std::optional<Response> response;
    };

    // Decodes the header and starts the request; false when the connection closed.
    bool dispatch(const std::shared_ptr<std::string>& request) {
        Reader reader(*request);
        auto header = decode_request_header(reader);
        if (!header) {
            close("malformed request header: " + header.error());
            return false;
        }
        if (header->api_key != static_cast<int16_t>(ApiKey::api_versions) &&
            !supported(header->api_key, header->api_version)) {
            close("unsupported request: " + std::string(name_of(header->api_key)) + " (key " +
                  std::to_string(header->api_key) + ") v" + std::to_string(header->api_version));
            return false;
        }
        uint64_t id = _next_id++;
        _slots.push_back(Slot{id, header->correlation_id, std::nullopt});
        std::string_view body = std::string_view(*request).substr(request->size() - reader.remaining());
        _handler(*header, body,
                 [self = shared_from_this(), id, request](Response r) { self->complete(id, std::move(r)); });
        return !_closed;
    }

    void complete(uint64_t id, Response response) {
        for (Slot& s : _slots) {
            if (s.id == id) {
                s.response = std::move(response);
                break;
            }
        }
        flush();
    }

    // Writes every answered request at the head of the queue, in order.
    void flush() {
        if (_writing || _closed) return;
        std::string out;
        bool close_after = false;
        while (!_slots.empty() && _slots.front().response) {
            Slot& s = _slots.front();
            if (s.response->kind == Response::Kind::reply) {
                be::append(out, s.response->body.size() + 4, 4);
                be::append(out, static_cast<uint32_t>(s.correlation_id), 4);
                out += s.response->body;
            } else if (s.response->kind == Response::Kind::close) {
                close_after = true;
            }
            _slots.pop_front();
            if (close_after) break;
        }
        _room.cancel();
        if (out.empty()) {
            if (close_after) close("a failed acks=0 produce");
            return;
        }
        _writing = true;
        auto buffer = std::make_shared<std::string>(std::move(out));
        asio::async_write(
            _socket, asio::buffer(*buffer),
            [self = shared_from_this(), buffer, close_after](boost::system::error_code ec, size_t) {
                self->_writing = false;
                if (ec) return self->close("write failed: " + ec.message());
                if (close_after) return self->close("a failed acks=0 produce");
                self->flush();
            });
    }

    void close(const std::string& why) {
        if (_closed) return;
        _closed = true;
        if (!why.empty()) spdlog::warn("kafka: closing connection from {}: {}", _peer, why);
        boost::system::error_code ec;
        _socket.close(ec);
        _room.cancel();
    }

    tcp::socket _socket;
    RequestHandler& _handler;
    asio::steady_timer _room;  // wakes the reader when the in-flight queue shrinks
    std::string _peer;
    std::deque<Slot> _slots;
    uint64_t _next_id{0};
    bool _writing{false};
    bool _closed{false};
};

class KafkaServer::Impl : public net::TcpListener<Connection> {
  public:
    Impl(asio::io_context& io, RequestHandler handler)
        : TcpListener(io, "kafka",
                      [this](tcp::socket socket) {
                          return std::make_shared<Connection>(std::move(socket), _handler);
                      }),
          _handler(std::move(handler)) {}

  private:
    RequestHandler _handler;
};

KafkaServer::KafkaServer(asio::io_context& io, RequestHandler handler)
    : _impl(std::make_shared<Impl>(io, std::move(handler))) {}

KafkaServer::~KafkaServer() {
    _impl->stop();
}

Result<uint16_t, std::string> KafkaServer::listen(const std::string& host, uint16_t port) {
    return _impl->listen(host, port);
}

void KafkaServer::stop() {
    _impl->stop();
}

}  // namespace fjord::kafka
