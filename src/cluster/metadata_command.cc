// The JSON codecs of the metadata commands and of the metadata image, on
// nlohmann-json. Objects are written with their keys sorted (nlohmann's
// default object is a std::map), so equal values always give equal text.
#include "cluster/metadata_command.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

namespace fjord::cluster {

namespace {

using json = nlohmann::json;

// The image format; decode refuses any other.
constexpr uint64_t kImageFormat = 1;

std::string dump(const json& j) {
    // `replace` instead of throwing on bytes that are not UTF-8: encoding must
    // not fail, and such bytes never pass validation anyway.
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The JSON value, or nullopt with `error` set (nlohmann says where and why).
std::optional<json> parse(std::string_view text, std::string& error) {
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        error = std::string("not valid JSON: ") + e.what();
        return std::nullopt;
    }
}

// For error messages: numbers by value (the bad one is usually a number),
// everything else by kind.
std::string describe(const json& v) {
    if (v.is_number()) return "number " + v.dump();
    if (v.is_string()) return "string";
    return v.type_name();
}

// ---------------------------------------------------------------------------
// Typed conversion of one JSON value. Each returns nothing on success, or the
// error as a suffix of the value's path (": expected ..." or "[2]: ...").

std::optional<std::string> convert(const json& v, std::string& out) {
    if (!v.is_string()) return ": expected a string, got " + describe(v);
    out = v.get<std::string>();
    return std::nullopt;
}

std::optional<std::string> convert(const json& v, uint64_t& out) {
    if (!v.is_number_unsigned()) return ": expected an unsigned integer, got " + describe(v);
    out = v.get<uint64_t>();
    return std::nullopt;
}

std::optional<std::string> convert(const json& v, int32_t& out) {
    const std::string error = ": expected a 32-bit integer, got " + describe(v);
    if (!v.is_number_integer()) return error;
    constexpr int64_t kMin = std::numeric_limits<int32_t>::min();
    constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
    if (v.is_number_unsigned()) {
        if (v.get<uint64_t>() > static_cast<uint64_t>(kMax)) return error;
    } else if (v.get<int64_t>() < kMin || v.get<int64_t>() > kMax) {
        return error;
    }
    out = static_cast<int32_t>(v.get<int64_t>());
    return std::nullopt;
}

template <typename T>
std::optional<std::string> convert(const json& v, std::vector<T>& out) {
    if (!v.is_array()) return ": expected an array, got " + describe(v);
    out.clear();
    for (size_t i = 0; i < v.size(); ++i) {
        T element{};
        if (auto e = convert(v[i], element)) return "[" + std::to_string(i) + "]" + *e;
        out.push_back(std::move(element));
    }
    return std::nullopt;
}

std::optional<std::string> convert(const json& v, std::map<std::string, std::string>& out) {
    if (!v.is_object()) return ": expected an object, got " + describe(v);
    out.clear();
    for (const auto& [key, value] : v.items()) {
        if (auto e = convert(value, out[key])) return "." + key + *e;
    }
    return std::nullopt;
}

// Reads the fields of one JSON object, remembering the first error and which
// fields were read, so that finish() can refuse the ones nobody asked for.
class ObjectReader {
  public:
    ObjectReader(const json& object, std::string path) : _object(object), _path(std::move(path)) {
        if (!object.is_object()) _error = _path + ": expected an object, got " + describe(object);
    }

    bool ok() const { return !_error; }

    // A field checked by someone else (e.g. the command's "type").
    void accept(const char* key) { _read.insert(key); }

    template <typename T>
    void read(const char* key, T& out) {
        const json* value = field(key);
        if (value == nullptr) return;
        if (auto e = convert(*value, out)) _error = _path + "." + key + *e;
    }

    // A nested object: `each(reader)` reads its fields.
    template <typename F>
    void read_object(const char* key, F each) {
        const json* value = field(key);
        if (value != nullptr) read_nested(*value, _path + "." + key, each);
    }

    // An array of objects: `each(reader)` is called with a reader per element.
    template <typename F>
    void read_objects(const char* key, F each) {
        const json* value = field(key);
        if (value == nullptr) return;
        if (!value->is_array()) {
            _error = _path + "." + key + ": expected an array, got " + describe(*value);
            return;
        }
        for (size_t i = 0; i < value->size() && ok(); ++i) {
            read_nested((*value)[i], _path + "." + key + "[" + std::to_string(i) + "]", each);
        }
    }

    // Refuses the object for a reason of the caller's, e.g. a duplicate.
    void reject(const std::string& why) {
        if (ok()) _error = _path + ": " + why;
    }

    // The first error, or an unknown field, or nothing.
    std::optional<std::string> finish() const {
        if (_error) return _error;
        for (const auto& [key, value] : _object.items()) {
            if (!_read.contains(key)) return _path + ": unknown field \"" + key + "\"";
        }
        return std::nullopt;
    }

  private:
    template <typename F>
    void read_nested(const json& value, std::string path, F each) {
        ObjectReader nested(value, std::move(path));
        if (nested.ok()) each(nested);
        if (auto e = nested.finish()) _error = *e;
    }

    const json* field(const char* key) {
        if (!ok()) return nullptr;
        _read.insert(key);
        auto it = _object.find(key);
        if (it == _object.end()) {
            _error = _path + ": missing field \"" + key + "\"";
            return nullptr;
        }
        return &*it;
    }

    const json& _object;
    std::string _path;
    std::set<std::string> _read;
    std::optional<std::string> _error;
};

// ---------------------------------------------------------------------------
// The records, both ways.

json node_to_json(const NodeInfo& n) {
    json j;
    j["id"] = n.id;
    j["rpc_addr"] = n.rpc_addr;
    j["kafka_addr"] = n.kafka_addr;
    j["redis_addr"] = n.redis_addr;
    j["admin_addr"] = n.admin_addr;
    return j;
}

void read_node(ObjectReader& r, NodeInfo& n) {
    r.read("id", n.id);
    r.read("rpc_addr", n.rpc_addr);
    r.read("kafka_addr", n.kafka_addr);
    r.read("redis_addr", n.redis_addr);
    r.read("admin_addr", n.admin_addr);
}

json partition_to_json(const PartitionInfo& p) {
    json j;
    j["partition"] = p.partition;
    j["group"] = p.group;
    j["replicas"] = p.replicas;
    return j;
}

void read_partition(ObjectReader& r, PartitionInfo& p) {
    r.read("partition", p.partition);
    r.read("group", p.group);
    r.read("replicas", p.replicas);
}

json topic_to_json(const TopicInfo& t) {
    json j;
    j["name"] = t.name;
    j["replication_factor"] = t.replication_factor;
    j["configs"] = t.configs;
    j["partitions"] = json::array();
    for (const auto& p : t.partitions) j["partitions"].push_back(partition_to_json(p));
    return j;
}

void read_topic(ObjectReader& r, TopicInfo& t) {
    r.read("name", t.name);
    r.read("replication_factor", t.replication_factor);
    r.read("configs", t.configs);
    r.read_objects("partitions", [&](ObjectReader& pr) {
        PartitionInfo p;
        read_partition(pr, p);
        t.partitions.push_back(std::move(p));
    });
}

// ---------------------------------------------------------------------------
// The commands: a name for the "type" field and the other fields.

std::string_view type_of(const RegisterNode&) {
    return "register_node";
}
std::string_view type_of(const CreateTopic&) {
    return "create_topic";
}
std::string_view type_of(const DeleteTopic&) {
    return "delete_topic";
}
std::string_view type_of(const SetTopicConfig&) {
    return "set_topic_config";
}
std::string_view type_of(const AddPartitions&) {
    return "add_partitions";
}

json fields_of(const RegisterNode& c) {
    json j;
    j["node"] = node_to_json(c.node);
    return j;
}

json fields_of(const CreateTopic& c) {
    json j;
    j["name"] = c.name;
    j["partitions"] = c.partitions;
    j["replication_factor"] = c.replication_factor;
    j["configs"] = c.configs;
    return j;
}

json fields_of(const DeleteTopic& c) {
    json j;
    j["name"] = c.name;
    return j;
}

json fields_of(const SetTopicConfig& c) {
    json j;
    j["name"] = c.name;
    j["set"] = c.set;
    j["remove"] = c.remove;
    return j;
}

json fields_of(const AddPartitions& c) {
    json j;
    j["name"] = c.name;
    j["count"] = c.count;
    return j;
}

void read_fields(ObjectReader& r, RegisterNode& c) {
    r.read_object("node", [&](ObjectReader& nr) { read_node(nr, c.node); });
}

void read_fields(ObjectReader& r, CreateTopic& c) {
    r.read("name", c.name);
    r.read("partitions", c.partitions);
    r.read("replication_factor", c.replication_factor);
    r.read("configs", c.configs);
}

void read_fields(ObjectReader& r, DeleteTopic& c) {
    r.read("name", c.name);
}

void read_fields(ObjectReader& r, SetTopicConfig& c) {
    r.read("name", c.name);
    r.read("set", c.set);
    r.read("remove", c.remove);
}

void read_fields(ObjectReader& r, AddPartitions& c) {
    r.read("name", c.name);
    r.read("count", c.count);
}

// Decodes the fields of a command of type C from an object whose "type" has
// been read already.
template <typename C>
Result<MetadataCommand, std::string> decode_as(const json& object) {
    C command;
    ObjectReader r(object, std::string(type_of(command)));
    r.accept("type");
    read_fields(r, command);
    if (auto e = r.finish()) return make_unexpected(*e);
    return MetadataCommand(std::move(command));
}

}  // namespace

std::string encode_command(const MetadataCommand& command) {
    return std::visit(
        [](const auto& c) {
            json j = fields_of(c);
            j["type"] = type_of(c);
            return dump(j);
        },
        command);
}

Result<MetadataCommand, std::string> decode_command(std::string_view text) {
    std::string error;
    std::optional<json> object = parse(text, error);
    if (!object) return make_unexpected(error);
    if (!object->is_object()) return make_unexpected("command: expected an object, got " + describe(*object));
    auto type = object->find("type");
    if (type == object->end()) return make_unexpected(std::string("command: missing field \"type\""));
    if (!type->is_string()) return make_unexpected("command.type: expected a string, got " + describe(*type));
    const std::string& name = type->get_ref<const std::string&>();
    if (name == type_of(RegisterNode{})) return decode_as<RegisterNode>(*object);
    if (name == type_of(CreateTopic{})) return decode_as<CreateTopic>(*object);
    if (name == type_of(DeleteTopic{})) return decode_as<DeleteTopic>(*object);
    if (name == type_of(SetTopicConfig{})) return decode_as<SetTopicConfig>(*object);
    if (name == type_of(AddPartitions{})) return decode_as<AddPartitions>(*object);
    return make_unexpected("command: unknown type \"" + name + "\"");
}

std::string encode_image(const MetadataImage& image) {
    json j;
    j["format"] = kImageFormat;
    j["version"] = image.version;
    j["next_group"] = image.next_group;
    j["nodes"] = json::array();
    for (const auto& [id, node] : image.nodes) j["nodes"].push_back(node_to_json(node));
    j["topics"] = json::array();
    for (const auto& [name, topic] : image.topics) j["topics"].push_back(topic_to_json(topic));
    return dump(j);
}

Result<MetadataImage, std::string> decode_image(std::string_view text) {
    std::string error;
    std::optional<json> object = parse(text, error);
    if (!object) return make_unexpected(error);
    MetadataImage image;
    ObjectReader r(*object, "image");
    uint64_t format = 0;
    r.read("format", format);
    if (r.ok() && format != kImageFormat) r.reject("unknown format " + std::to_string(format));
    r.read("version", image.version);
    r.read("next_group", image.next_group);
    r.read_objects("nodes", [&](ObjectReader& nr) {
        NodeInfo node;
        read_node(nr, node);
        if (nr.ok() && !image.nodes.emplace(node.id, node).second) {
            nr.reject("duplicate node id " + std::to_string(node.id));
        }
    });
    r.read_objects("topics", [&](ObjectReader& tr) {
        TopicInfo topic;
        read_topic(tr, topic);
        if (tr.ok() && !image.topics.emplace(topic.name, topic).second) {
            tr.reject("duplicate topic \"" + topic.name + "\"");
        }
    });
    if (auto e = r.finish()) return make_unexpected(*e);
    return image;
}

}  // namespace fjord::cluster
