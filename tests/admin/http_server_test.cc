// Tests of the admin HTTP server (src/admin/http_server.h), through the client
// of http_client.h, and through raw sockets where a test must control the bytes
// on the wire (keep-alive, garbage, a client that hangs up early).
#include "admin/http_server.h"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "admin/http_client.h"

namespace fjord::admin {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// Generous: sanitizer builds share two cores with other builds. A passing
// test waits for far less.
constexpr auto kDeadline = 10s;
constexpr auto kClientTimeout = std::chrono::milliseconds(kDeadline);

// A one-shot event: one thread sets it, another waits for it up to a deadline.
class Signal {
  public:
    void set() {
        std::lock_guard lock(_mutex);
        _set = true;
        _changed.notify_all();
    }
    bool wait() {
        std::unique_lock lock(_mutex);
        return _changed.wait_for(lock, kDeadline, [this] { return _set; });
    }

  private:
    std::mutex _mutex;
    std::condition_variable _changed;
    bool _set = false;
};

// The length of the first whole response in `data` (head plus Content-Length
// bytes of body), or 0 while it has not all arrived.
size_t first_response_length(const std::string& data) {
    const size_t head_end = data.find("\r\n\r\n");
    if (head_end == std::string::npos) return 0;
    size_t body_length = 0;
    const size_t field = data.find("Content-Length: ");
    if (field != std::string::npos && field < head_end) body_length = std::stoul(data.substr(field + 16));
    const size_t total = head_end + 4 + body_length;
    return data.size() >= total ? total : 0;
}

// A client socket on its own io_context, whose every read has a deadline.
class RawConnection {
  public:
    explicit RawConnection(uint16_t port) : _socket(_io) {
        _socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
    }

    void send(std::string_view bytes) { asio::write(_socket, asio::buffer(bytes.data(), bytes.size())); }

    // The next whole response, or "" if the connection ended or the deadline passed first.
    std::string read_response() {
        while (first_response_length(_received) == 0) {
            if (!read_some()) return "";
        }
        const size_t length = first_response_length(_received);
        std::string response = _received.substr(0, length);
        _received.erase(0, length);
        return response;
    }

    // Reads until the server closes the connection; false if the deadline passes first.
    bool read_until_closed() {
        while (read_some()) {
        }
        return _closed;
    }

    const std::string& received() const { return _received; }
    void close() { _socket.close(); }

  private:
    // Appends what arrives next to _received; false at the end of the stream or the deadline.
    bool read_some() {
        std::array<char, 4096> chunk;
        std::optional<boost::system::error_code> result;
        size_t bytes = 0;
        _socket.async_read_some(asio::buffer(chunk), [&](boost::system::error_code ec, size_t n) {
            result = ec;
            bytes = n;
        });
        _io.restart();
        _io.run_for(kDeadline);
        if (!result) {  // deadline: cancel, and let the handler run before `chunk` goes away
            _socket.cancel();
            _io.restart();
            _io.run();
            return false;
        }
        if (*result) {
            _closed = true;
            return false;
        }
        _received.append(chunk.data(), bytes);
        return true;
    }

    asio::io_context _io;
    tcp::socket _socket;
    std::string _received;
    bool _closed = false;
};

std::string get_request(const std::string& target) {
    return "GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n";
}

// Describes a request in the response body, so tests can check what the handler saw.
HttpResponse echo(const HttpRequest& request) {
    std::string text = request.method + " " + request.path;
    for (const auto& [key, value] : request.query) text += "\n" + key + "=" + value;
    return HttpResponse{200, "text/plain", text};
}

class HttpServerTest : public ::testing::Test {
  protected:
    void TearDown() override { stop_loop(); }

    // Starts a server with `handler` on 127.0.0.1 (any port) and runs the loop on a thread.
    void start(HttpHandler handler) {
        _server = std::make_unique<HttpServer>(_io, std::move(handler));
        auto port = _server->listen("127.0.0.1", 0);
        ASSERT_TRUE(port.has_value()) << port.error();
        _port = *port;
        _loop = std::thread([this] {
            _io.run();
            _loop_done.set();
        });
    }

    // Runs `fn` on the loop's thread and waits until it has run.
    void on_loop(std::function<void()> fn) {
        auto done = std::make_shared<Signal>();
        asio::post(_io, [fn = std::move(fn), done] {
            fn();
            done->set();
        });
        ASSERT_TRUE(done->wait()) << "the loop did not run a posted function";
    }

    // Stops the server on its loop, then expects the loop to run out of work:
    // stop() must have closed every connection and the accept loop.
    void stop_loop() {
        if (!_loop.joinable()) return;
        asio::post(_io, [this] {
            if (_server) _server->stop();
        });
        _work.reset();
        const bool drained = _loop_done.wait();
        EXPECT_TRUE(drained) << "the loop still had work after stop()";
        if (!drained) _io.stop();
        _loop.join();
        _server.reset();
    }

    std::string address() const { return "127.0.0.1:" + std::to_string(_port); }

    Result<HttpResponse, std::string> get(const std::string& target) {
        return http_request("GET", address(), target, "", kClientTimeout);
    }

    asio::io_context _io;
    // Keeps the loop running while a test stops or replaces the server.
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> _work{_io.get_executor()};
    std::unique_ptr<HttpServer> _server;
    uint16_t _port = 0;
    std::thread _loop;
    Signal _loop_done;
    // A respond() the handler kept for a test to call later; only the loop's thread touches it.
    Respond _parked;
    Signal _handler_called;
};

TEST_F(HttpServerTest, GetDecodesTheQuery) {
    start([](HttpRequest request, Respond respond) { respond(echo(request)); });

    auto response = get("/topics/a%20b?name=hello%20world&flag&sum=1%2B1&plus=a+b&&empty=");
    ASSERT_TRUE(response.has_value()) << response.error();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->content_type, "text/plain");
    EXPECT_EQ(response->body, "GET /topics/a%20b\nempty=\nflag=\nname=hello world\nplus=a b\nsum=1+1");
}

TEST_F(HttpServerTest, MalformedPercentEncodingIsA400) {
    start([](HttpRequest request, Respond respond) { respond(echo(request)); });

    auto response = get("/x?a=%zz");
    ASSERT_TRUE(response.has_value()) << response.error();
    EXPECT_EQ(response->status, 400);
    EXPECT_NE(response->body.find("percent-encoding"), std::string::npos) << response->body;
}

TEST_F(HttpServerTest, PostBodyIsEchoed) {
    start([](HttpRequest request, Respond respond) {
        respond(HttpResponse{201, "application/octet-stream", request.method + ":" + request.body});
    });
    std::string body(100 * 1024, '\0');
    for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7);

    auto response = http_request("POST", address(), "/echo", body, kClientTimeout);
    ASSERT_TRUE(response.has_value()) << response.error();
    EXPECT_EQ(response->status, 201);
    EXPECT_EQ(response->content_type, "application/octet-stream");
    EXPECT_EQ(response->body, "POST:" + body);
}

TEST_F(HttpServerTest, HandlerMayRespondLater) {
    start([this](HttpRequest request, Respond respond) {
        auto timer = std::make_shared<asio::steady_timer>(_io, 20ms);
        timer->async_wait([timer, respond, path = request.path](boost::system::error_code) {
            respond(HttpResponse{202, "text/plain", "late " + path});
        });
    });

    auto response = get("/slow");
    ASSERT_TRUE(response.has_value()) << response.error();
    EXPECT_EQ(response->status, 202);
    EXPECT_EQ(response->body, "late /slow");
}

TEST_F(HttpServerTest, HandlerThatThrowsGivesA500) {
    start([](HttpRequest, Respond) { throw std::runtime_error("boom"); });

    auto response = get("/throw");
    ASSERT_TRUE(response.has_value()) << response.error();
    EXPECT_EQ(response->status, 500);
    EXPECT_NE(response->body.find("boom"), std::string::npos) << response->body;
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
    start([](HttpRequest request, Respond respond) { respond(echo(request)); });
    RawConnection connection(_port);

    connection.send(get_request("/first"));
    const std::string first = connection.read_response();
    connection.send(get_request("/second?n=2"));
    const std::string second = connection.read_response();

    EXPECT_EQ(first.rfind("HTTP/1.1 200", 0), 0u) << first;
    EXPECT_NE(first.find("\r\n\r\nGET /first"), std::string::npos) << first;
    EXPECT_EQ(first.find("Connection: close"), std::string::npos) << first;
    EXPECT_EQ(second.rfind("HTTP/1.1 200", 0), 0u) << second;
    EXPECT_NE(second.find("\r\n\r\nGET /second\nn=2"), std::string::npos) << second;
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
    // The first answer comes late, the second at once: the second must still wait its turn.
    start([this](HttpRequest request, Respond respond) {
        if (request.path != "/slow") return respond(echo(request));
        auto timer = std::make_shared<asio::steady_timer>(_io, 20ms);
        timer->async_wait([timer, respond, request](boost::system::error_code) { respond(echo(request)); });
    });
    RawConnection connection(_port);

    connection.send(get_request("/slow") + get_request("/fast"));
    const std::string first = connection.read_response();
    const std::string second = connection.read_response();

    EXPECT_NE(first.find("\r\n\r\nGET /slow"), std::string::npos) << first;
    EXPECT_NE(second.find("\r\n\r\nGET /fast"), std::string::npos) << second;
}

TEST_F(HttpServerTest, GarbageClosesOnlyThatConnection) {
    start([](HttpRequest request, Respond respond) { respond(echo(request)); });
    RawConnection bystander(_port);
    RawConnection garbage(_port);

    garbage.send(std::string_view("\x00\x01garbage\r\n\r\n", 13));
    ASSERT_TRUE(garbage.read_until_closed()) << "the server kept the connection open";
    EXPECT_EQ(garbage.received().rfind("HTTP/1.1 400", 0), 0u) << garbage.received();

    bystander.send(get_request("/still-here"));
    EXPECT_NE(bystander.read_response().find("GET /still-here"), std::string::npos);
    auto response = get("/new");
    ASSERT_TRUE(response.has_value()) << response.error();
    EXPECT_EQ(response->status, 200);
}

TEST_F(HttpServerTest, BodyOverOneMebibyteIsA413) {
    start([](HttpRequest request, Respond respond) {
        respond(HttpResponse{200, "text/plain", std::to_string(request.body.size())});
    });

    auto too_big = http_request("POST", address(), "/big", std::string(2 << 20, 'x'), kClientTimeout);
    ASSERT_TRUE(too_big.has_value()) << too_big.error();
    EXPECT_EQ(too_big->status, 413);

    auto at_limit = http_request("POST", address(), "/big", std::string(1 << 20, 'x'), kClientTimeout);
    ASSERT_TRUE(at_limit.has_value()) << at_limit.error();
    EXPECT_EQ(at_limit->status, 200);
    EXPECT_EQ(at_limit->body, std::to_string(1 << 20));
}

TEST_F(HttpServerTest, ExpectContinueGetsAnInterimAnswer) {
    start([](HttpRequest request, Respond respond) {
        respond(HttpResponse{200, "text/plain", request.body});
    });
    RawConnection connection(_port);

    connection.send("POST /c HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(connection.read_response(), "HTTP/1.1 100 Continue\r\n\r\n");
    connection.send("hello");
    const std::string response = connection.read_response();
    EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
    EXPECT_NE(response.find("\r\n\r\nhello"), std::string::npos) << response;
}

TEST_F(HttpServerTest, ClientHangingUpBeforeALateRespondIsHarmless) {
    start([this](HttpRequest, Respond respond) {
        _parked = std::move(respond);
        _handler_called.set();
    });
    {
        RawConnection connection(_port);
        connection.send(get_request("/parked"));
        ASSERT_TRUE(_handler_called.wait());
    }  // hangs up

    on_loop([this] { _parked(HttpResponse{200, "text/plain", "too late"}); });
    on_loop([this] { _parked(HttpResponse{200, "text/plain", "twice"}); });  // ignored
}

TEST_F(HttpServerTest, RespondAfterStopDoesNothing) {
    start([this](HttpRequest, Respond respond) {
        _parked = std::move(respond);
        _handler_called.set();
    });
    RawConnection connection(_port);
    connection.send(get_request("/parked"));
    ASSERT_TRUE(_handler_called.wait());

    on_loop([this] { _server->stop(); });
    EXPECT_TRUE(connection.read_until_closed());
    EXPECT_EQ(connection.received(), "");
    on_loop([this] { _parked(HttpResponse{200, "text/plain", "too late"}); });
    on_loop([this] { _server->stop(); });  // twice is fine
}

TEST_F(HttpServerTest, RespondAfterTheServerIsDestroyedDoesNothing) {
    start([this](HttpRequest, Respond respond) {
        _parked = std::move(respond);
        _handler_called.set();
    });
    RawConnection connection(_port);
    connection.send(get_request("/parked"));
    ASSERT_TRUE(_handler_called.wait());

    on_loop([this] { _server.reset(); });
    on_loop([this] { _parked(HttpResponse{200, "text/plain", "too late"}); });
    EXPECT_TRUE(connection.read_until_closed());
}

TEST_F(HttpServerTest, ARestartedServerBindsTheSamePortAtOnce) {
    const auto handler = [](HttpRequest request, Respond respond) { respond(echo(request)); };
    start(handler);
    // The server closes this connection first, which leaves the port in TIME_WAIT.
    RawConnection connection(_port);
    connection.send(get_request("/before"));
    ASSERT_NE(connection.read_response(), "");
    on_loop([this] { _server->stop(); });
    ASSERT_TRUE(connection.read_until_closed());

    on_loop([&] {
        _server = std::make_unique<HttpServer>(_io, handler);
        auto port = _server->listen("127.0.0.1", _port);
        ASSERT_TRUE(port.has_value()) << port.error();
        EXPECT_EQ(*port, _port);
    });
    auto response = get("/after");
    ASSERT_TRUE(response.has_value()) << response.error();
    EXPECT_EQ(response->body, "GET /after");
}

TEST_F(HttpServerTest, ListenErrorNamesTheAddress) {
    start([](HttpRequest request, Respond respond) { respond(echo(request)); });

    on_loop([this] {
        HttpServer second(_io, [](HttpRequest, Respond) {});
        auto port = second.listen("127.0.0.1", _port);
        ASSERT_FALSE(port.has_value());
        EXPECT_NE(port.error().find("127.0.0.1:" + std::to_string(_port)), std::string::npos) << port.error();
    });
}

TEST(HttpClientTest, ClosedPortNamesTheAddress) {
    // A bound socket that does not listen: connecting to it is refused.
    asio::io_context io;
    tcp::acceptor bound(io, tcp::v4());
    bound.bind(tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    const std::string where = "127.0.0.1:" + std::to_string(bound.local_endpoint().port());

    auto response = http_request("GET", where, "/", "", kClientTimeout);
    ASSERT_FALSE(response.has_value());
    EXPECT_NE(response.error().find("connect to " + where + " failed"), std::string::npos)
        << response.error();
}

TEST(HttpClientTest, SilentServerTimesOut) {
    // Listening but never accepting: the kernel completes the handshake, nobody answers.
    asio::io_context io;
    tcp::acceptor silent(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    const std::string where = "127.0.0.1:" + std::to_string(silent.local_endpoint().port());

    auto response = http_request("GET", where, "/", "", 200ms);
    ASSERT_FALSE(response.has_value());
    EXPECT_EQ(response.error(), "read response from " + where + " timed out after 200 ms");
}

TEST(HttpClientTest, MalformedAddressIsAnError) {
    auto response = http_request("GET", "no-port", "/", "", 200ms);
    ASSERT_FALSE(response.has_value());
    EXPECT_NE(response.error().find("no-port"), std::string::npos) << response.error();
}

}  // namespace
}  // namespace fjord::admin
