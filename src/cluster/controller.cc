#include "cluster/controller.h"

#include <spdlog/spdlog.h>

#include "storage/record_batch.h"

namespace fjord::cluster {

namespace {
constexpr size_t kMaxOutcomes = 1024;
}

std::string Controller::encode_entry(const MetadataCommand& command, int64_t now_ms) {
    return storage::encode_batch(0, 0, now_ms, {storage::Record{"", encode_command(command), 0}});
}

void Controller::apply(const raft::Entry& entry) {
    auto records = storage::decode_records(entry.data.view());
    Result<Ok, MetadataError> outcome = Ok{};
    if (!records) {
        // Cannot happen for batches this code wrote; refuse loudly rather than guess.
        spdlog::error("controller: entry {} is not a valid record batch: {}", entry.index.value,
                      storage::to_string(records.error()));
        outcome = make_unexpected(MetadataError{MetadataErrc::invalid_node, "undecodable controller entry"});
    } else {
        bool changed = false;
        for (const storage::Record& record : *records) {
            auto command = decode_command(record.value);
            if (!command) {
                spdlog::error("controller: entry {} holds a malformed command: {}", entry.index.value,
                              command.error());
                continue;
            }
            outcome = _metadata.apply(*command);
            changed = changed || outcome.has_value();
        }
        if (changed && _on_change) _on_change();
    }
    _outcomes.insert_or_assign(entry.index.value, std::move(outcome));
    while (_outcomes.size() > kMaxOutcomes) _outcomes.erase(_outcomes.begin());
}

bool Controller::restore(std::string_view image) {
    auto restored = Metadata::restore(image);
    if (!restored) {
        spdlog::error("controller: not a metadata image: {}", restored.error());
        return false;
    }
    _metadata = std::move(*restored);
    _outcomes.clear();  // each is taken as its entry applies; none belongs to the image
    if (_on_change) _on_change();
    return true;
}

std::optional<Result<Ok, MetadataError>> Controller::take_outcome(uint64_t index) {
    auto it = _outcomes.find(index);
    if (it == _outcomes.end()) return std::nullopt;
    auto outcome = std::move(it->second);
    _outcomes.erase(it);
    return outcome;
}

}  // namespace fjord::cluster
