// The metadata state machine: validation of each command, replica placement,
// and the consistency checks of a restored image.
#include "cluster/metadata.h"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <vector>

#include "cluster/controller.h"

namespace fjord::cluster {

namespace {

using Check = Result<Ok, MetadataError>;

Unexpected<MetadataError> refuse(MetadataErrc code, std::string detail) {
    return make_unexpected(MetadataError{code, std::move(detail)});
}

// A user-supplied string in quotes, with bytes that would garble a log line
// or a terminal shown as \xNN.
std::string quote(std::string_view s) {
    static const char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        }
    }
    return out + "\"";
}

std::string topic_prefix(std::string_view name) {
    return "topic " + quote(name) + ": ";
}

// ---------------------------------------------------------------------------
// Nodes.

bool is_printable_ascii(std::string_view s) {
    for (unsigned char c : s) {
        if (c <= 0x20 || c >= 0x7f) return false;
    }
    return true;
}

Check check_node(const NodeInfo& node) {
    const std::string who = "node " + std::to_string(node.id);
    if (node.id == 0) return refuse(MetadataErrc::invalid_node, "node id 0 is reserved; ids start at 1");
    if (node.rpc_addr.empty()) return refuse(MetadataErrc::invalid_node, who + " has no rpc_addr");
    const std::pair<const char*, const std::string*> addresses[] = {{"rpc_addr", &node.rpc_addr},
                                                                    {"kafka_addr", &node.kafka_addr},
                                                                    {"redis_addr", &node.redis_addr},
                                                                    {"admin_addr", &node.admin_addr}};
    for (const auto& [field, value] : addresses) {
        if (!is_printable_ascii(*value)) {
            return refuse(MetadataErrc::invalid_node, who + ": " + field + " " + quote(*value) +
                                                          " is not printable ASCII without spaces");
        }
    }
    return Ok{};
}

// ---------------------------------------------------------------------------
// Topic names, partition counts, replication factors.

bool is_topic_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

Check check_topic_name(std::string_view name) {
    auto invalid = [&](const std::string& why) {
        return refuse(MetadataErrc::invalid_topic_name, "topic name " + quote(name) + " " + why);
    };
    if (name.empty()) return invalid("is empty");
    if (name.size() > kMaxTopicNameLength) {
        return invalid("has " + std::to_string(name.size()) + " characters, more than " +
                       std::to_string(kMaxTopicNameLength));
    }
    if (name == "." || name == "..") return invalid("is reserved");
    for (char c : name) {
        if (!is_topic_name_char(c)) {
            return invalid("contains " + quote(std::string_view(&c, 1)) + "; allowed are [a-zA-Z0-9._-]");
        }
    }
    return Ok{};
}

Check check_partition_count(std::string_view topic, int64_t partitions) {
    if (partitions < 1 || partitions > kMaxPartitions) {
        return refuse(MetadataErrc::invalid_partitions, topic_prefix(topic) + std::to_string(partitions) +
                                                            " partitions is outside 1.." +
                                                            std::to_string(kMaxPartitions));
    }
    return Ok{};
}

Check check_replication_factor(std::string_view topic, int32_t rf, size_t nodes) {
    if (rf < 1) {
        return refuse(MetadataErrc::invalid_replication_factor,
                      topic_prefix(topic) + "replication factor " + std::to_string(rf) + " is below 1");
    }
    if (static_cast<size_t>(rf) > nodes) {
        return refuse(MetadataErrc::invalid_replication_factor,
                      topic_prefix(topic) + "replication factor " + std::to_string(rf) + " exceeds the " +
                          std::to_string(nodes) + " registered nodes");
    }
    return Ok{};
}

// ---------------------------------------------------------------------------
// Topic configs: a fixed set of keys, each with a typed value. The storage
// and Kafka layers read them, so a value that passed here must make sense
// there.

struct IntegerKey {
    std::string_view key;
    int64_t min, max;
};

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// Kafka's ranges; -1 means "no limit" for retention.
constexpr IntegerKey kIntegerKeys[] = {
    {"retention.ms", -1, kInt64Max}, {"retention.bytes", -1, kInt64Max},  {"segment.bytes", 1, kInt32Max},
    {"segment.ms", 1, kInt64Max},    {"max.message.bytes", 1, kInt32Max}, {"flush.ms", 0, kInt64Max},
};

struct ChoiceKey {
    std::string_view key;
    std::string_view choices;  // separated by '|'
};

// Only deletion is implemented; compaction would be a new choice here.
constexpr ChoiceKey kChoiceKeys[] = {
    {"cleanup.policy", "delete"},
    {"flush.policy", "every_append|interval|never"},
};

// Bounded by the topic's replication factor, so checked with it.
constexpr std::string_view kMinInsyncReplicas = "min.insync.replicas";

bool is_one_of(std::string_view value, std::string_view choices) {
    while (true) {
        size_t bar = choices.find('|');
        if (choices.substr(0, bar) == value) return true;
        if (bar == std::string_view::npos) return false;
        choices.remove_prefix(bar + 1);
    }
}

// A whole decimal integer: no sign but '-', no spaces, no trailing bytes.
std::optional<int64_t> parse_integer(std::string_view s) {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return value;
}

bool is_known_key(std::string_view key) {
    if (key == kMinInsyncReplicas) return true;
    for (const auto& k : kIntegerKeys) {
        if (k.key == key) return true;
    }
    for (const auto& k : kChoiceKeys) {
        if (k.key == key) return true;
    }
    return false;
}

Check check_integer(std::string_view topic, std::string_view key, std::string_view value, int64_t min,
                    int64_t max) {
    const std::string where = topic_prefix(topic) + std::string(key) + " ";
    std::optional<int64_t> n = parse_integer(value);
    if (!n) return refuse(MetadataErrc::invalid_config, where + quote(value) + " is not an integer");
    if (*n < min || *n > max) {
        return refuse(MetadataErrc::invalid_config, where + std::to_string(*n) + " is outside " +
                                                        std::to_string(min) + ".." + std::to_string(max));
    }
    return Ok{};
}

Check check_config(std::string_view topic, std::string_view key, std::string_view value, int32_t rf) {
    if (key == kMinInsyncReplicas) {
        std::optional<int64_t> n = parse_integer(value);
        if (n && *n > rf) {
            return refuse(MetadataErrc::invalid_config,
                          topic_prefix(topic) + std::string(key) + " " + std::to_string(*n) +
                              " exceeds the replication factor " + std::to_string(rf));
        }
        return check_integer(topic, key, value, 1, rf);
    }
    for (const auto& k : kIntegerKeys) {
        if (k.key == key) return check_integer(topic, key, value, k.min, k.max);
    }
    for (const auto& k : kChoiceKeys) {
        if (k.key != key) continue;
        if (is_one_of(value, k.choices)) return Ok{};
        return refuse(MetadataErrc::invalid_config, topic_prefix(topic) + std::string(key) + " " +
                                                        quote(value) + " is not one of " +
                                                        std::string(k.choices));
    }
    return refuse(MetadataErrc::invalid_config, topic_prefix(topic) + "unknown config key " + quote(key));
}

Check check_configs(std::string_view topic, const std::map<std::string, std::string>& configs, int32_t rf) {
    for (const auto& [key, value] : configs) {
        if (auto r = check_config(topic, key, value, rf); !r) return r;
    }
    return Ok{};
}

// ---------------------------------------------------------------------------
// The commands.

Check check_command(const MetadataImage&, const RegisterNode& c) {
    return check_node(c.node);
}

Check check_command(const MetadataImage& image, const CreateTopic& c) {
    if (auto r = check_topic_name(c.name); !r) return r;
    if (image.topics.contains(c.name)) {
        return refuse(MetadataErrc::topic_exists, "topic " + quote(c.name) + " already exists");
    }
    if (auto r = check_partition_count(c.name, c.partitions); !r) return r;
    if (auto r = check_replication_factor(c.name, c.replication_factor, image.nodes.size()); !r) return r;
    return check_configs(c.name, c.configs, c.replication_factor);
}

Check check_known_topic(const MetadataImage& image, const std::string& name) {
    if (!image.topics.contains(name)) {
        return refuse(MetadataErrc::unknown_topic, "topic " + quote(name) + " does not exist");
    }
    return Ok{};
}

// The key-value store hashes keys over its shards: deleting them or adding
// one would lose or misplace every key.
Check check_not_kv(const std::string& name, const char* what) {
    if (name != kKvTopic) return Ok{};
    return refuse(MetadataErrc::invalid_topic_name,
                  "topic " + quote(name) + " holds the key-value store's shards: " + what);
}

Check check_command(const MetadataImage& image, const DeleteTopic& c) {
    if (auto r = check_not_kv(c.name, "it cannot be deleted"); !r) return r;
    return check_known_topic(image, c.name);
}

Check check_command(const MetadataImage& image, const SetTopicConfig& c) {
    if (auto r = check_known_topic(image, c.name); !r) return r;
    if (auto r = check_configs(c.name, c.set, image.topics.at(c.name).replication_factor); !r) return r;
    for (const auto& key : c.remove) {
        if (!is_known_key(key)) {
            return refuse(MetadataErrc::invalid_config,
                          topic_prefix(c.name) + "unknown config key " + quote(key));
        }
        // Which one wins would depend on the order apply() happens to use.
        if (c.set.contains(key)) {
            return refuse(MetadataErrc::invalid_config,
                          topic_prefix(c.name) + "config key " + quote(key) + " is both set and removed");
        }
    }
    return Ok{};
}

Check check_command(const MetadataImage& image, const AddPartitions& c) {
    if (auto r = check_not_kv(c.name, "their number is fixed when the cluster forms"); !r) return r;
    if (auto r = check_known_topic(image, c.name); !r) return r;
    const TopicInfo& topic = image.topics.at(c.name);
    const size_t current = topic.partitions.size();
    if (c.count <= static_cast<int64_t>(current)) {
        return refuse(MetadataErrc::invalid_partitions,
                      "topic " + quote(c.name) + " already has " + std::to_string(current) +
                          (current == 1 ? " partition" : " partitions") +
                          "; the count can only grow (asked for " + std::to_string(c.count) + ")");
    }
    if (auto r = check_partition_count(c.name, c.count); !r) return r;
    // Holds for every topic a command created (nodes are never removed) and
    // for every restored one; placement relies on it, so apply() must not
    // get past here without it.
    return check_replication_factor(c.name, topic.replication_factor, image.nodes.size());
}

// ---------------------------------------------------------------------------
// Placement.

// How many partitions each registered node preferred-leads and hosts, by the
// node's position in `ids` (sorted, as the nodes map is).
struct NodeLoad {
    std::vector<uint64_t> ids;
    std::vector<size_t> leaders, replicas;
};

NodeLoad current_load(const MetadataImage& image) {
    NodeLoad load;
    for (const auto& [id, node] : image.nodes) load.ids.push_back(id);
    load.leaders.assign(load.ids.size(), 0);
    load.replicas.assign(load.ids.size(), 0);
    auto position = [&](uint64_t id) {
        return static_cast<size_t>(std::lower_bound(load.ids.begin(), load.ids.end(), id) - load.ids.begin());
    };
    for (const auto& [name, topic] : image.topics) {
        for (const auto& p : topic.partitions) {
            ++load.leaders[position(p.replicas.front())];
            for (uint64_t r : p.replicas) ++load.replicas[position(r)];
        }
    }
    return load;
}

// The position not yet taken with the smallest key; ties go to the first in
// ring order from `start`, so that equal nodes take turns.
template <typename Key>
size_t least_loaded(size_t n, size_t start, const std::vector<bool>& taken, Key key) {
    std::optional<size_t> best;
    for (size_t k = 0; k < n; ++k) {
        size_t i = (start + k) % n;
        if (!taken[i] && (!best || key(i) < key(*best))) best = i;
    }
    return *best;
}

// Places one partition and counts it into `load`. The preferred leader is the
// node leading the fewest partitions (then: hosting the fewest replicas); the
// followers are the nodes hosting the fewest replicas. Greedy, but it keeps
// leaderships within one of each other cluster-wide. Ties go to the first node
// in ring order from `start`, which the caller turns per partition and per
// topic, so that partition 0 of every topic does not land on the same node.
PartitionInfo place_partition(NodeLoad& load, size_t start, int32_t partition, int32_t rf, uint64_t group) {
    const size_t n = load.ids.size();
    std::vector<bool> taken(n, false);
    const size_t leader = least_loaded(
        n, start % n, taken, [&](size_t i) { return std::pair(load.leaders[i], load.replicas[i]); });
    std::vector<size_t> chosen{leader};
    taken[leader] = true;
    while (chosen.size() < static_cast<size_t>(rf)) {
        size_t follower =
            least_loaded(n, (leader + 1) % n, taken, [&](size_t i) { return load.replicas[i]; });
        chosen.push_back(follower);
        taken[follower] = true;
    }
    PartitionInfo info{partition, group, {}};
    ++load.leaders[leader];
    for (size_t i : chosen) {
        ++load.replicas[i];
        info.replicas.push_back(load.ids[i]);
    }
    return info;
}

// ---------------------------------------------------------------------------
// Consistency of a restored image. Returns the group index it implies.

using GroupIndex = std::map<uint64_t, std::pair<std::string, int32_t>>;

std::optional<std::string> check_partition(const MetadataImage& image, const TopicInfo& topic, size_t index,
                                           const PartitionInfo& p) {
    const std::string where = topic_prefix(topic.name) + "partition " + std::to_string(index) + ": ";
    if (p.partition != static_cast<int32_t>(index)) return where + "numbered " + std::to_string(p.partition);
    if (p.replicas.size() != static_cast<size_t>(topic.replication_factor)) {
        return where + std::to_string(p.replicas.size()) + " replicas for replication factor " +
               std::to_string(topic.replication_factor);
    }
    std::set<uint64_t> seen;
    for (uint64_t r : p.replicas) {
        if (!image.nodes.contains(r))
            return where + "replica " + std::to_string(r) + " is not a registered node";
        if (!seen.insert(r).second) return where + "replica " + std::to_string(r) + " appears twice";
    }
    if (p.group == 0 || p.group >= image.next_group) {
        return where + "group " + std::to_string(p.group) + " is outside 1.." +
               std::to_string(image.next_group - 1);
    }
    return std::nullopt;
}

std::optional<std::string> check_topic(const MetadataImage& image, const TopicInfo& topic) {
    Check r = check_topic_name(topic.name);
    if (r) r = check_partition_count(topic.name, static_cast<int64_t>(topic.partitions.size()));
    if (r) r = check_replication_factor(topic.name, topic.replication_factor, image.nodes.size());
    if (r) r = check_configs(topic.name, topic.configs, topic.replication_factor);
    if (!r) return r.error().detail;
    for (size_t i = 0; i < topic.partitions.size(); ++i) {
        if (auto e = check_partition(image, topic, i, topic.partitions[i])) return e;
    }
    return std::nullopt;
}

Result<GroupIndex, std::string> check_image(const MetadataImage& image) {
    if (image.next_group == 0) return make_unexpected(std::string("next_group is 0; groups start at 1"));
    for (const auto& [id, node] : image.nodes) {
        if (auto r = check_node(node); !r) return make_unexpected(r.error().detail);
    }
    GroupIndex groups;
    for (const auto& [name, topic] : image.topics) {
        if (auto e = check_topic(image, topic)) return make_unexpected(*e);
        for (const auto& p : topic.partitions) {
            if (!groups.emplace(p.group, std::pair(name, p.partition)).second) {
                return make_unexpected(topic_prefix(name) + "group " + std::to_string(p.group) +
                                       " is used twice");
            }
        }
    }
    return groups;
}

}  // namespace

std::string_view to_string(MetadataErrc code) {
    switch (code) {
        case MetadataErrc::topic_exists:
            return "topic_exists";
        case MetadataErrc::unknown_topic:
            return "unknown_topic";
        case MetadataErrc::invalid_topic_name:
            return "invalid_topic_name";
        case MetadataErrc::invalid_partitions:
            return "invalid_partitions";
        case MetadataErrc::invalid_replication_factor:
            return "invalid_replication_factor";
        case MetadataErrc::invalid_config:
            return "invalid_config";
        case MetadataErrc::invalid_node:
            return "invalid_node";
    }
    return "unknown";
}

Result<Ok, MetadataError> Metadata::check(const MetadataCommand& command) const {
    return std::visit([this](const auto& c) { return check_command(_image, c); }, command);
}

Result<Ok, MetadataError> Metadata::apply(const MetadataCommand& command) {
    // Validation and mutation are separate, so a refused command cannot have
    // changed half of the state, and check() and apply() cannot disagree.
    if (auto r = check(command); !r) return r;
    std::visit([this](const auto& c) { apply_checked(c); }, command);
    ++_image.version;
    return Ok{};
}

void Metadata::apply_checked(const RegisterNode& c) {
    _image.nodes[c.node.id] = c.node;
}

void Metadata::apply_checked(const CreateTopic& c) {
    NodeLoad load = current_load(_image);
    // Ties start at a node that moves on by one per existing topic (Kafka
    // picks a random one; any value derived from the state will do).
    const size_t first_start = _image.topics.size();
    TopicInfo topic{c.name, c.replication_factor, c.configs, {}};
    for (int32_t p = 0; p < c.partitions; ++p) {
        const size_t start = first_start + static_cast<size_t>(p);
        topic.partitions.push_back(
            place_partition(load, start, p, c.replication_factor, _image.next_group++));
        _groups[topic.partitions.back().group] = {c.name, p};
    }
    _image.topics.emplace(c.name, std::move(topic));
}

void Metadata::apply_checked(const DeleteTopic& c) {
    auto it = _image.topics.find(c.name);
    for (const auto& p : it->second.partitions) _groups.erase(p.group);
    _image.topics.erase(it);
}

void Metadata::apply_checked(const SetTopicConfig& c) {
    auto& configs = _image.topics.at(c.name).configs;
    for (const auto& key : c.remove) configs.erase(key);
    for (const auto& [key, value] : c.set) configs[key] = value;
}

void Metadata::apply_checked(const AddPartitions& c) {
    NodeLoad load = current_load(_image);
    auto it = _image.topics.find(c.name);
    // Ties start as in CreateTopic, one node on per topic and per partition:
    // per topic ordered before this one (the state has no creation order),
    // and per partition counting on from the existing ones.
    const size_t first_start = static_cast<size_t>(std::distance(_image.topics.begin(), it));
    TopicInfo& topic = it->second;
    for (auto p = static_cast<int32_t>(topic.partitions.size()); p < c.count; ++p) {
        const size_t start = first_start + static_cast<size_t>(p);
        topic.partitions.push_back(
            place_partition(load, start, p, topic.replication_factor, _image.next_group++));
        _groups[topic.partitions.back().group] = {c.name, p};
    }
}

const TopicInfo* Metadata::topic(std::string_view name) const {
    auto it = _image.topics.find(name);
    return it == _image.topics.end() ? nullptr : &it->second;
}

const PartitionInfo* Metadata::partition(std::string_view topic_name, int32_t p) const {
    const TopicInfo* t = topic(topic_name);
    if (t == nullptr || p < 0 || static_cast<size_t>(p) >= t->partitions.size()) return nullptr;
    return &t->partitions[p];
}

std::optional<std::pair<std::string, int32_t>> Metadata::locate_group(uint64_t group) const {
    auto it = _groups.find(group);
    if (it == _groups.end()) return std::nullopt;
    return it->second;
}

std::string Metadata::snapshot() const {
    return encode_image(_image);
}

Result<Metadata, std::string> Metadata::restore(std::string_view text) {
    auto image = decode_image(text);
    if (!image) return make_unexpected("metadata image: " + image.error());
    auto groups = check_image(image.value());
    if (!groups) return make_unexpected("metadata image: " + groups.error());
    Metadata m;
    m._image = std::move(image.value());
    m._groups = std::move(groups.value());
    return m;
}

}  // namespace fjord::cluster
