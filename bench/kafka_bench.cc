// A Kafka load tool on librdkafka: produces (and then consumes) a topic on a
// running cluster and prints throughput and latency percentiles.
//
//   fjord-bench-kafka --bootstrap 127.0.0.1:9092 --topic bench --messages 1000000 --size 100 --acks all
//       [--partitions 6] [--rate N msgs/s, 0 = as fast as possible] [--inflight N] [--linger-ms 5]
//       [--batch-messages 10000] [-X librdkafka.property=value ...] [--stats FILE]
//       [--consume | --consume-only]
//
// -X sets any librdkafka property of the producer (after the tool's own), as
// kcat's -X does. --stats appends librdkafka's statistics JSON (one line a
// second: per-broker rtt, int_latency, outbuf_latency, ...) to FILE.
//
// Produce latency is measured per message, from produce() to its delivery
// report, with a steady clock.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    std::string bootstrap = "127.0.0.1:9092";
    std::string topic = "fjord-bench";
    long messages = 1000000;
    size_t size = 100;
    std::string acks = "all";
    int partitions = 6;
    long rate = 0;
    int inflight = 1000000;
    int linger_ms = 5;
    int batch_messages = 10000;
    bool consume = false;
    bool produce = true;
    std::vector<std::pair<std::string, std::string>> properties;  // -X
    std::string stats_file;
};

bool parse(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--bootstrap")
            o.bootstrap = value();
        else if (a == "--topic")
            o.topic = value();
        else if (a == "--messages")
            o.messages = std::stol(value());
        else if (a == "--size")
            o.size = std::stoul(value());
        else if (a == "--acks")
            o.acks = value();
        else if (a == "--partitions")
            o.partitions = std::stoi(value());
        else if (a == "--rate")
            o.rate = std::stol(value());
        else if (a == "--inflight")
            o.inflight = std::stoi(value());
        else if (a == "--linger-ms")
            o.linger_ms = std::stoi(value());
        else if (a == "--batch-messages")
            o.batch_messages = std::stoi(value());
        else if (a == "-X") {
            std::string kv = value();
            size_t eq = kv.find('=');
            if (eq == std::string::npos) {
                std::fprintf(stderr, "-X wants property=value, not %s\n", kv.c_str());
                return false;
            }
            o.properties.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
        } else if (a == "--stats")
            o.stats_file = value();
        else if (a == "--consume")
            o.consume = true;
        else if (a == "--consume-only")
            o.consume = !(o.produce = false);
        else {
            std::fprintf(stderr, "unknown argument %s\n", a.c_str());
            return false;
        }
    }
    return true;
}

rd_kafka_conf_t* base_conf(const Options& o) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[256];
    rd_kafka_conf_set(conf, "bootstrap.servers", o.bootstrap.c_str(), err, sizeof err);
    return conf;
}

void set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
    char err[256];
    if (rd_kafka_conf_set(conf, key, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
        std::fprintf(stderr, "%s: %s\n", key, err);
        std::exit(2);
    }
}

struct ProduceStats {
    std::vector<double> latencies_ms;       // from when the message was due
    std::vector<double> call_latencies_ms;  // from the produce() call
    long failed = 0;
    FILE* stats_out = nullptr;  // --stats
};

// When a message was due (the pacer's schedule) and when produce() took it:
// they differ by how late the client itself was.
struct Sent {
    Clock::time_point due;
    Clock::time_point called;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* stats = static_cast<ProduceStats*>(opaque);
    auto* sent = static_cast<Sent*>(m->_private);
    if (m->err) {
        ++stats->failed;
    } else {
        auto now = Clock::now();
        stats->latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - sent->due).count());
        stats->call_latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(now - sent->called).count());
    }
}

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    size_t k = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k];
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "fjord-bench-kafka: %s\n", what.c_str());
    std::exit(1);
}

// Creates the topic, or checks that the existing one has the partitions asked
// for: a topic auto-created earlier by a client with the broker's default
// partition count would silently measure something else.
void create_topic(const Options& o) {
    rd_kafka_conf_t* conf = base_conf(o);
    char err[256];
    rd_kafka_t* admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!admin) die(std::string("admin client: ") + err);
    rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(o.topic.c_str(), o.partitions, 3, err, sizeof err);
    if (!topic) die(std::string("topic: ") + err);
    rd_kafka_queue_t* queue = rd_kafka_queue_new(admin);
    rd_kafka_CreateTopics(admin, &topic, 1, nullptr, queue);
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
    if (!event) die("CreateTopics " + o.topic + ": no answer in 30 s");
    const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        result ? rd_kafka_CreateTopics_result_topics(result, &n) : nullptr;
    rd_kafka_resp_err_t e = rd_kafka_event_error(event);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && n == 1) e = rd_kafka_topic_result_error(results[0]);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        die("CreateTopics " + o.topic + ": " + rd_kafka_err2str(e));
    rd_kafka_event_destroy(event);
    rd_kafka_NewTopic_destroy(topic);
    rd_kafka_queue_destroy(queue);

    rd_kafka_topic_t* handle = rd_kafka_topic_new(admin, o.topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    e = rd_kafka_metadata(admin, 0, handle, &md, 10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) die("Metadata " + o.topic + ": " + rd_kafka_err2str(e));
    int partitions = md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(handle);
    rd_kafka_destroy(admin);
    if (partitions != o.partitions) {
        die("topic " + o.topic + " has " + std::to_string(partitions) + " partitions, not " +
            std::to_string(o.partitions) + ": use another topic or --partitions " +
            std::to_string(partitions));
    }
}

void produce(const Options& o) {
    rd_kafka_conf_t* conf = base_conf(o);
    ProduceStats stats;
    stats.latencies_ms.reserve(static_cast<size_t>(o.messages));
    stats.call_latencies_ms.reserve(static_cast<size_t>(o.messages));
    set(conf, "acks", o.acks == "all" ? "-1" : o.acks);
    set(conf, "linger.ms", std::to_string(o.linger_ms));
    set(conf, "queue.buffering.max.messages", "2000000");
    set(conf, "queue.buffering.max.kbytes", "2097151");
    set(conf, "max.in.flight.requests.per.connection", std::to_string(o.inflight));
    set(conf, "batch.num.messages", std::to_string(o.batch_messages));
    set(conf, "socket.nagle.disable", "true");
    for (const auto& [key, value] : o.properties) set(conf, key.c_str(), value);
    FILE* stats_out = nullptr;
    if (!o.stats_file.empty()) {
        stats_out = std::fopen(o.stats_file.c_str(), "a");
        if (stats_out == nullptr) die("cannot open " + o.stats_file);
        set(conf, "statistics.interval.ms", "1000");
        rd_kafka_conf_set_stats_cb(conf, [](rd_kafka_t*, char* json, size_t len, void* opaque) {
            auto* out = static_cast<ProduceStats*>(opaque)->stats_out;
            std::fwrite(json, 1, len, out);
            std::fputc('\n', out);
            return 0;
        });
    }
    stats.stats_out = stats_out;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &stats);
    char err[256];
    rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!producer) die(std::string("producer: ") + err);
    std::string payload(o.size, 'x');
    // Warm-up, not measured: one message per partition, once every leader is elected.
    std::vector<Sent> warm_up(static_cast<size_t>(o.partitions), Sent{Clock::now(), Clock::now()});
    for (int p = 0; p < o.partitions; ++p) {
        rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(o.topic.c_str()), RD_KAFKA_V_PARTITION(p),
                          RD_KAFKA_V_VALUE(payload.data(), payload.size()),
                          RD_KAFKA_V_OPAQUE(&warm_up[static_cast<size_t>(p)]), RD_KAFKA_V_END);
    }
    rd_kafka_flush(producer, 60000);
    if (stats.failed != 0) die(std::to_string(stats.failed) + " warm-up message(s) failed");
    stats.latencies_ms.clear();
    stats.call_latencies_ms.clear();
    // The tool shares the machine's two cores with the nodes it measures, so
    // its own work per message is kept small: the records are made before the
    // run (a malloc per message showed in its profile), the clock is read once
    // per message unless it waits, and delivery reports are served every 64
    // messages (about 0.1 ms at the rates measured) when it does not wait.
    std::vector<Sent> sent(static_cast<size_t>(o.messages));
    auto start = Clock::now();
    for (long i = 0; i < o.messages; ++i) {
        // A paced message's latency counts from when it was due, so that a
        // client held back by the cluster still sees the wait. The pacer
        // waits in rd_kafka_poll(), which returns as soon as a delivery
        // report comes (a plain sleep would delay the reports, and so the
        // latency measured, to the next message's turn), then sleeps the
        // last fraction of a millisecond; it does not spin: spinning took one
        // of this machine's two cores away from the nodes it was measuring.
        Sent& s = sent[static_cast<size_t>(i)];
        Clock::time_point now = Clock::now();
        s.due = now;
        if (o.rate > 0) {
            s.due = start + std::chrono::nanoseconds(i * 1000000000L / o.rate);
            while (now < s.due) {
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(s.due - now).count();
                if (left >= 1) {
                    rd_kafka_poll(producer, static_cast<int>(left));
                } else {
                    rd_kafka_poll(producer, 0);
                    std::this_thread::sleep_until(s.due);
                }
                now = Clock::now();
            }
        }
        s.called = now;
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(o.topic.c_str()),
                                                      RD_KAFKA_V_VALUE(payload.data(), payload.size()),
                                                      RD_KAFKA_V_OPAQUE(&s), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) die(std::string("produce: ") + rd_kafka_err2str(e));
            rd_kafka_poll(producer, 10);
        }
        if (i % 64 == 0) rd_kafka_poll(producer, 0);
    }
    rd_kafka_flush(producer, 120000);
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    double rate = static_cast<double>(stats.latencies_ms.size()) / seconds;
    std::printf("produce: %ld msgs of %zu B, acks=%s: %.0f msgs/s, %.1f MB/s, failed %ld\n", o.messages,
                o.size, o.acks.c_str(), rate, rate * static_cast<double>(o.size) / 1e6, stats.failed);
    if (o.rate > 0) {
        std::printf("produce latency from the produce() call ms: p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
                    percentile(stats.call_latencies_ms, 50), percentile(stats.call_latencies_ms, 99),
                    percentile(stats.call_latencies_ms, 99.9), percentile(stats.call_latencies_ms, 100));
    }
    std::printf("produce latency ms: p50 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
                percentile(stats.latencies_ms, 50), percentile(stats.latencies_ms, 99),
                percentile(stats.latencies_ms, 99.9), percentile(stats.latencies_ms, 100));
    rd_kafka_destroy(producer);
    if (stats_out != nullptr) std::fclose(stats_out);
}

void consume(const Options& o) {
    rd_kafka_conf_t* conf = base_conf(o);
    set(conf, "group.id", "fjord-bench");
    set(conf, "enable.auto.commit", "false");
    set(conf, "fetch.max.bytes", "52428800");
    set(conf, "queued.min.messages", "1000000");
    char err[256];
    rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(o.partitions);
    for (int p = 0; p < o.partitions; ++p)
        rd_kafka_topic_partition_list_add(parts, o.topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    long received = 0;
    auto start = Clock::now();
    auto last = start;
    // Batches of messages per call: one poll per message would measure the client.
    rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(consumer);
    std::vector<rd_kafka_message_t*> batch(10000);
    while (received < o.messages && Clock::now() - last < std::chrono::seconds(10)) {
        ssize_t n = rd_kafka_consume_batch_queue(queue, 100, batch.data(), batch.size());
        for (ssize_t i = 0; i < n; ++i) {
            if (!batch[static_cast<size_t>(i)]->err) ++received;
            rd_kafka_message_destroy(batch[static_cast<size_t>(i)]);
        }
        if (n > 0) last = Clock::now();
    }
    rd_kafka_queue_destroy(queue);
    double seconds = std::chrono::duration<double>(last - start).count();
    std::printf("consume: %ld msgs in %.2f s: %.0f msgs/s\n", received, seconds,
                static_cast<double>(received) / seconds);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, o)) return 2;
    create_topic(o);
    if (o.produce) produce(o);
    if (o.consume) consume(o);
    return 0;
}
