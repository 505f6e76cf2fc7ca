#include "app/kafka_client.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/big_endian.h"
#include "common/host_port.h"
#include "common/wall_clock.h"
#include "kafka/api.h"
#include "kafka/fetch_messages.h"
#include "kafka/list_offsets_messages.h"
#include "kafka/metadata_messages.h"
#include "kafka/produce_messages.h"
#include "kafka/request_header.h"
#include "storage/record_batch.h"

namespace fjord::app {

namespace {

using namespace std::chrono_literals;
using kafka::ErrorCode;
using Clock = std::chrono::steady_clock;

constexpr int16_t kMetadataVersion = 4;  // allows auto-creation
constexpr int16_t kProduceVersion = 7;
constexpr int16_t kFetchVersion = 11;
constexpr int16_t kListOffsetsVersion = 2;
constexpr auto kRetryPause = 100ms;  // between attempts, while leadership settles
constexpr int kSocketTimeoutMs = 10000;

bool retriable(int16_t code) {
    switch (static_cast<ErrorCode>(code)) {
        case ErrorCode::unknown_topic_or_partition:
        case ErrorCode::leader_not_available:
        case ErrorCode::not_leader_or_follower:
        case ErrorCode::request_timed_out:
        case ErrorCode::not_enough_replicas:
            return true;
        default:
            return false;
    }
}

std::string error_text(int16_t code) {
    return "Kafka error " + std::to_string(code);
}

Result<int, std::string> connect_to(const std::string& address) {
    auto [host, port] = split_host_port(address);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
        return make_unexpected("resolve " + address + ": " + gai_strerror(rc));
    int fd = -1;
    std::string error = "no address";
    for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        timeval tv{kSocketTimeoutMs / 1000, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            error = std::strerror(errno);
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    if (fd < 0) return make_unexpected("connect to " + address + " failed: " + error);
    return fd;
}

bool send_all(int fd, const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
        ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return false;
        sent += static_cast<size_t>(n);
    }
    return true;
}

bool recv_all(int fd, char* out, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, out + got, n - got, 0);
        if (r <= 0) return false;
        got += static_cast<size_t>(r);
    }
    return true;
}

}  // namespace

KafkaClient::KafkaClient(std::string bootstrap, std::chrono::milliseconds patience)
    : _bootstrap(std::move(bootstrap)), _patience(patience) {}

KafkaClient::~KafkaClient() {
    for (auto& [address, fd] : _sockets) close(fd);
}

void KafkaClient::forget(const std::string& address) {
    if (auto it = _sockets.find(address); it != _sockets.end()) {
        close(it->second);
        _sockets.erase(it);
    }
}

Result<std::string, std::string> KafkaClient::call(const std::string& address, int16_t api_key,
                                                   int16_t version, const std::string& body) {
    if (!_sockets.contains(address)) {
        auto fd = connect_to(address);
        if (!fd) return make_unexpected(fd.error());
        _sockets[address] = *fd;
    }
    int fd = _sockets[address];
    int32_t correlation = ++_correlation;
    std::string request;
    kafka::encode_request_header(request, {api_key, version, correlation, std::string("fjord-cli")});
    request += body;
    std::string frame;
    be::append(frame, request.size(), 4);
    frame += request;
    char size_bytes[4];
    if (!send_all(fd, frame) || !recv_all(fd, size_bytes, 4)) {
        forget(address);
        return make_unexpected("no answer from " + address);
    }
    std::string response(be::load32(size_bytes), '\0');
    if (response.size() < 4 || !recv_all(fd, response.data(), response.size()) ||
        static_cast<int32_t>(be::load32(response.data())) != correlation) {
        forget(address);
        return make_unexpected("bad answer from " + address);
    }
    return response.substr(4);
}

Result<KafkaClient::Leader, std::string> KafkaClient::find_leader(const std::string& topic, int32_t partition,
                                                                  bool create) {
    std::string body;
    kafka::encode_metadata_request(body, {std::vector<std::string>{topic}, create}, kMetadataVersion);
    auto answer = call(_bootstrap, static_cast<int16_t>(kafka::ApiKey::metadata), kMetadataVersion, body);
    if (!answer) return make_unexpected(answer.error());
    auto metadata = kafka::decode_metadata_response(*answer, kMetadataVersion);
    if (!metadata) return make_unexpected("malformed Metadata response: " + metadata.error());
    for (const kafka::MetadataTopic& t : metadata->topics) {
        if (t.name != topic) continue;
        if (t.error_code != 0) return Leader{{}, t.error_code};
        for (const kafka::MetadataPartition& p : t.partitions) {
            if (p.partition_index != partition) continue;
            if (p.error_code != 0 || p.leader_id < 0)
                return Leader{{}, static_cast<int16_t>(ErrorCode::leader_not_available)};
            for (const kafka::MetadataBroker& b : metadata->brokers) {
                if (b.node_id == p.leader_id) return Leader{b.host + ":" + std::to_string(b.port), 0};
            }
        }
        return make_unexpected("topic " + topic + " has no partition " + std::to_string(partition));
    }
    return Leader{{}, static_cast<int16_t>(ErrorCode::unknown_topic_or_partition)};
}

Result<int64_t, std::string> KafkaClient::append(const std::string& topic, int32_t partition,
                                                 const std::string& value) {
    std::string batch = storage::encode_batch(0, -1, wall_clock_ms(), {storage::Record{"", value, 0}});
    kafka::ProduceRequest request;
    request.acks = -1;
    request.timeout_ms = 10000;
    request.topics.push_back({topic, {{partition, std::string_view(batch)}}});
    std::string body;
    kafka::encode_produce_request(body, request, kProduceVersion);

    auto deadline = Clock::now() + _patience;
    std::string last = "no attempt";
    while (Clock::now() < deadline) {
        auto leader = find_leader(topic, partition, true);
        if (leader && leader->error == 0) {
            auto answer =
                call(leader->address, static_cast<int16_t>(kafka::ApiKey::produce), kProduceVersion, body);
            if (!answer) {
                last = answer.error();
            } else if (auto response = kafka::decode_produce_response(*answer, kProduceVersion);
                       !response || response->responses.empty() ||
                       response->responses[0].partitions.empty()) {
                return make_unexpected("malformed Produce response from " + leader->address);
            } else {
                const auto& p = response->responses[0].partitions[0];
                if (p.error_code == 0) return p.base_offset;
                if (!retriable(p.error_code)) return make_unexpected(error_text(p.error_code));
                last = error_text(p.error_code);
            }
        } else {
            last = leader ? error_text(leader->error) : leader.error();
            if (leader && !retriable(leader->error)) return make_unexpected(last);
            forget(_bootstrap);
        }
        std::this_thread::sleep_for(kRetryPause);
    }
    return make_unexpected("gave up after " + std::to_string(_patience.count() / 1000) + " s: " + last);
}

Result<std::vector<FetchedRecord>, std::string> KafkaClient::read(const std::string& topic, int32_t partition,
                                                                  int64_t from, size_t max) {
    std::vector<FetchedRecord> out;
    auto deadline = Clock::now() + _patience;
    std::string last = "no attempt";
    int64_t offset = from;
    int64_t end = -1;  // the high watermark when reading started
    while (Clock::now() < deadline && out.size() < max && (end < 0 || offset < end)) {
        auto leader = find_leader(topic, partition, false);
        if (leader && leader->error == static_cast<int16_t>(ErrorCode::unknown_topic_or_partition))
            return make_unexpected("topic " + topic + " does not exist");
        if (!leader || leader->error != 0) {
            last = leader ? error_text(leader->error) : leader.error();
            if (leader && !retriable(leader->error)) return make_unexpected(last);
            std::this_thread::sleep_for(kRetryPause);
            continue;
        }
        kafka::FetchRequest request;
        request.max_wait_ms = 0;
        request.min_bytes = 0;
        request.max_bytes = 4 << 20;
        request.topics.push_back({topic, {{partition, -1, offset, -1, 1 << 20}}});
        std::string body;
        kafka::encode_fetch_request(body, request, kFetchVersion);
        auto answer = call(leader->address, static_cast<int16_t>(kafka::ApiKey::fetch), kFetchVersion, body);
        if (!answer) {
            last = answer.error();
            std::this_thread::sleep_for(kRetryPause);
            continue;
        }
        auto response = kafka::decode_fetch_response(*answer, kFetchVersion);
        if (!response || response->responses.empty() || response->responses[0].partitions.empty())
            return make_unexpected("malformed Fetch response from " + leader->address);
        const kafka::FetchPartitionResponse& p = response->responses[0].partitions[0];
        if (p.error_code == static_cast<int16_t>(ErrorCode::offset_out_of_range) &&
            offset < p.log_start_offset) {
            offset = p.log_start_offset;  // retention removed the beginning
            continue;
        }
        if (p.error_code != 0) {
            last = error_text(p.error_code);
            if (!retriable(p.error_code)) return make_unexpected(last);
            std::this_thread::sleep_for(kRetryPause);
            continue;
        }
        if (end < 0) end = p.high_watermark;
        std::string_view bytes = p.records.value_or(std::string_view());
        if (bytes.empty()) break;
        while (!bytes.empty() && out.size() < max) {
            auto header = storage::validate_batch(bytes);
            if (!header) return make_unexpected("corrupt batch from " + leader->address);
            std::string_view batch = bytes.substr(0, header->size);
            bytes.remove_prefix(header->size);
            offset = header->last_offset() + 1;
            if (header->is_control()) continue;
            auto records = storage::decode_records(batch);
            if (!records)
                return make_unexpected("undecodable batch (compressed?) at offset " +
                                       std::to_string(header->base_offset));
            for (size_t i = 0; i < records->size() && out.size() < max; ++i) {
                int64_t record_offset = header->base_offset + static_cast<int64_t>(i);
                if (record_offset >= from)
                    out.push_back({record_offset, header->leader_epoch, std::move((*records)[i].value)});
            }
        }
    }
    if (out.empty() && end < 0 && Clock::now() >= deadline)
        return make_unexpected("gave up after " + std::to_string(_patience.count() / 1000) + " s: " + last);
    return out;
}

}  // namespace fjord::app
