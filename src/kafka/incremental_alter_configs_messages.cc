// IncrementalAlterConfigs v0 bodies
// (schemas/IncrementalAlterConfigsRequest.json and
// IncrementalAlterConfigsResponse.json):
//
//   request:  [resources: int8 resource_type, resource_name,
//              [configs: name, int8 config_operation, nullable value]],
//             bool validate_only
//   response: AlterConfigs' layout, whose codec (alter_configs_messages.cc)
//             decodes and encodes it
#include "kafka/incremental_alter_configs_messages.h"

#include <cassert>

#include "kafka/wire.h"

namespace fjord::kafka {

namespace {

using Request = IncrementalAlterConfigsRequest;

// Smallest encodings, for Reader::array's bound: empty strings and arrays.
constexpr size_t kMinResourceSize = 1 + 2 + 4;
constexpr size_t kMinConfigSize = 2 + 1 + 2;

constexpr VersionedCodec kCodec{"IncrementalAlterConfigs", kIncrementalAlterConfigsMinVersion,
                                kIncrementalAlterConfigsMaxVersion};

Request::Config read_config(Reader& r) {
    Request::Config c;
    c.name = r.non_null_string("resources.configs.name");
    c.config_operation = r.i8("resources.configs.config_operation");
    c.value = r.nullable_string("resources.configs.value");
    return c;
}

Request::Resource read_resource(Reader& r) {
    Request::Resource res;
    res.resource_type = r.i8("resources.resource_type");
    res.resource_name = r.non_null_string("resources.resource_name");
    res.configs = read_vector(r, "resources.configs", kMinConfigSize, [&] { return read_config(r); });
    return res;
}

void write_resource(Writer& w, const Request::Resource& res) {
    w.i8(res.resource_type);
    w.string(res.resource_name);
    write_vector(w, res.configs, [&](const Request::Config& c) {
        w.string(c.name);
        w.i8(c.config_operation);
        w.nullable_string(c.value);
    });
}

}  // namespace

Result<IncrementalAlterConfigsRequest, std::string> decode_incremental_alter_configs_request(
    std::string_view body, int16_t version) {
    if (!kCodec.supports(version)) return make_unexpected(kCodec.unsupported("request", version));
    Reader r(body);
    Request req;
    req.resources = read_vector(r, "resources", kMinResourceSize, [&] { return read_resource(r); });
    req.validate_only = r.boolean("validate_only");
    return kCodec.finish(r, std::move(req), "request", version);
}

void encode_incremental_alter_configs_request(std::string& out, const IncrementalAlterConfigsRequest& request,
                                              int16_t version) {
    assert(kCodec.supports(version));
    (void)version;
    Writer w(out);
    write_vector(w, request.resources, [&](const Request::Resource& res) { write_resource(w, res); });
    w.boolean(request.validate_only);
}

Result<IncrementalAlterConfigsResponse, std::string> decode_incremental_alter_configs_response(
    std::string_view body, int16_t version) {
    return detail::decode_config_results(body, version, kCodec);
}

void encode_incremental_alter_configs_response(std::string& out,
                                               const IncrementalAlterConfigsResponse& response,
                                               int16_t version) {
    detail::encode_config_results(out, response, version, kCodec);
}

}  // namespace fjord::kafka
