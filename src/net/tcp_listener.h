// Accepts TCP connections on one address and starts a connection for each,
// for the client-facing servers (Kafka, Redis); stop() closes the listener
// and every connection still open. A Connection has
// `boost::asio::awaitable<void> serve()` and `void stop()`.
//
// Header-only because it is a template over the connection; include it from
// .cc files only (it pulls in Asio).
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace fjord::net {

// "host:port" of a connected client, for log lines.
inline std::string peer_of(const boost::asio::ip::tcp::socket& s) {
    boost::system::error_code ec;
    auto ep = s.remote_endpoint(ec);
    return ec ? std::string("unknown peer") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

template <typename Connection>
class TcpListener : public std::enable_shared_from_this<TcpListener<Connection>> {
  public:
    using Socket = boost::asio::ip::tcp::socket;
    using MakeConnection = std::function<std::shared_ptr<Connection>(Socket)>;

    // `protocol` names the listener in errors and logs ("kafka", "redis").
    TcpListener(boost::asio::io_context& io, std::string protocol, MakeConnection make)
        : _io(io), _protocol(std::move(protocol)), _make(std::move(make)), _acceptor(io) {}

    // Binds (SO_REUSEADDR, so a restarted node binds again at once) and
    // starts accepting; the error names the address.
    Result<uint16_t, std::string> listen(const std::string& host, uint16_t port) {
        namespace asio = boost::asio;
        std::string where = host + ":" + std::to_string(port);
        boost::system::error_code ec;
        auto address = asio::ip::make_address(host, ec);
        if (ec) return make_unexpected(_protocol + " address " + where + ": " + ec.message());
        asio::ip::tcp::endpoint endpoint(address, port);
        _acceptor.open(endpoint.protocol(), ec);
        if (!ec) _acceptor.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) _acceptor.bind(endpoint, ec);
        if (!ec) _acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec)
            return make_unexpected("cannot listen on " + _protocol + " address " + where + ": " +
                                   ec.message());
        asio::co_spawn(_io, accept_loop(), asio::detached);
        return _acceptor.local_endpoint().port();
    }

    void stop() {
        _stopped = true;
        boost::system::error_code ec;
        _acceptor.close(ec);
        for (const auto& weak : _connections) {
            if (auto c = weak.lock()) c->stop();
        }
        _connections.clear();
    }

  private:
    boost::asio::awaitable<void> accept_loop() {
        namespace asio = boost::asio;
        auto self = this->shared_from_this();
        while (!_stopped) {
            auto [ec, socket] = co_await _acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            if (ec) {
                if (_stopped) co_return;
                spdlog::warn("{}: accept failed: {}", _protocol, ec.message());
                continue;
            }
            auto connection = _make(std::move(socket));
            std::erase_if(_connections, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
            _connections.push_back(connection);
            asio::co_spawn(_io, connection->serve(), asio::detached);
        }
    }

    boost::asio::io_context& _io;
    std::string _protocol;
    MakeConnection _make;
    boost::asio::ip::tcp::acceptor _acceptor;
    std::vector<std::weak_ptr<Connection>> _connections;
    bool _stopped{false};
};

}  // namespace fjord::net
