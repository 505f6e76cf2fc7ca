// The Redis listener: RESP2 and inline commands over TCP. Each connection
// parses commands as they arrive (clients pipeline them), hands each to the
// key-value service at once, and writes the replies strictly in command
// order. A protocol error is answered, then the connection is closed, as
// Redis does; any other error is just a reply.
//
// Runs on the caller's io_context thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"

namespace boost::asio {
class io_context;
}

namespace fjord::kv {

class KvService;

class RedisServer {
  public:
    RedisServer(boost::asio::io_context& io, KvService& service);
    ~RedisServer();
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    // Binds (SO_REUSEADDR) and starts accepting; the error names the address.
    Result<uint16_t, std::string> listen(const std::string& host, uint16_t port);
    void stop();

  private:
    class Impl;
    std::shared_ptr<Impl> _impl;
};

}  // namespace fjord::kv
