// The Kafka listener: accepts client connections and frames requests and
// responses (an int32 size, then the body). Each connection reads requests
// as they come (clients pipeline them) and hands each to the handler at
// once, but writes the responses strictly in request order, as clients
// require. A request whose API or version fjord does not parse closes the
// connection, as Kafka does; ApiVersions is the exception (the handler
// answers UNSUPPORTED_VERSION so that the client retries lower).
//
// Runs on the caller's io_context thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "kafka/request_header.h"

namespace boost::asio {
class io_context;
}

namespace fjord::kafka {

struct Response {
    enum class Kind : uint8_t { reply, none, close } kind{Kind::reply};
    std::string body;  // after the correlation id
    static Response reply(std::string body) { return {Kind::reply, std::move(body)}; }
    static Response none() { return {Kind::none, {}}; }
    static Response close() { return {Kind::close, {}}; }
};

// Called on the loop thread; `body` stays valid until `done` is called,
// which must happen exactly once, now or later on the loop thread.
using RequestHandler = std::function<void(const RequestHeader& header, std::string_view body,
                                          std::function<void(Response)> done)>;

class KafkaServer {
  public:
    KafkaServer(boost::asio::io_context& io, RequestHandler handler);
    ~KafkaServer();
    KafkaServer(const KafkaServer&) = delete;
    KafkaServer& operator=(const KafkaServer&) = delete;

    // Binds (SO_REUSEADDR) and starts accepting; the error names the address.
    Result<uint16_t, std::string> listen(const std::string& host, uint16_t port);
    void stop();

  private:
    class Impl;
    std::shared_ptr<Impl> _impl;
};

}  // namespace fjord::kafka
