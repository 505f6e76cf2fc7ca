// A fixture for PartitionLog tests on a SimFileSystem: opens logs with
// captured log lines and keeps a model of what was appended.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage_test_util.h"

namespace fjord::storage::testing {

class LogTest : public ::testing::Test {
  protected:
    // Files hold exactly their data, so that tests can check and damage
    // their ends; PreallocationTest covers preallocated files.
    LogConfig config() {
        LogConfig c;
        c.preallocate_bytes = 0;
        c.log = lines.logger();
        return c;
    }

    std::unique_ptr<PartitionLog> open(const LogConfig& c, int64_t now_ms = 0) {
        auto r = PartitionLog::open(fs, dir, c, nullptr, now_ms);
        EXPECT_TRUE(r) << (r ? std::string() : r.error().detail);
        if (!r) return nullptr;
        return std::move(*r);
    }

    // Appends `batch` and records it in the model.
    void append(PartitionLog& log, const std::string& batch, int64_t now_ms = 0) {
        auto r = log.append(batch, now_ms);
        ASSERT_TRUE(r) << r.error().detail;
        EXPECT_EQ(*r, last_offset_of(batch));
        model[parse_batch_header(batch)->base_offset] = batch;
    }

    // Appends `n` batches of `records` records with `value_size`-byte values.
    void append_many(PartitionLog& log, int n, int records = 1, size_t value_size = 16, int64_t now_ms = 0) {
        for (int i = 0; i < n; ++i) {
            ASSERT_NO_FATAL_FAILURE(
                append(log, make_batch(log.next_offset(), records, value_size, now_ms), now_ms));
        }
    }

    // Drops the model's batches from `offset` on.
    void model_truncate_suffix(int64_t offset) { model.erase(model.lower_bound(offset), model.end()); }

    std::vector<int64_t> model_boundaries() const {
        std::vector<int64_t> out;
        for (const auto& [base, bytes] : model) out.push_back(base);
        return out;
    }

    // The log holds exactly the model's batches from its start offset on.
    void expect_matches_model(PartitionLog& log, size_t max_bytes = 1 << 20) {
        std::vector<StoredBatch> got;
        ASSERT_TRUE(read_all(log, got, max_bytes));
        std::vector<StoredBatch> want;
        for (const auto& [base, bytes] : model) {
            if (last_offset_of(bytes) >= log.start_offset())
                want.push_back({base, last_offset_of(bytes) + 1, bytes});
        }
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) {
            EXPECT_EQ(got[i].base, want[i].base);
            EXPECT_TRUE(got[i].bytes == want[i].bytes) << "batch at " << want[i].base << " differs";
        }
        if (!model.empty()) {
            EXPECT_EQ(log.next_offset(), last_offset_of(model.rbegin()->second) + 1);
        }
    }

    // The model batch holding `offset`.
    const std::string* model_batch_at(int64_t offset) const {
        auto it = model.upper_bound(offset);
        if (it == model.begin()) return nullptr;
        --it;
        return last_offset_of(it->second) >= offset ? &it->second : nullptr;
    }

    std::string path(const std::string& name) const { return join_path(dir, name); }
    std::string log_path(int64_t base) const { return path(segment_file_name(base, ".log")); }
    std::string index_path(int64_t base) const { return path(segment_file_name(base, ".index")); }

    // Base offsets of the .log files in the directory.
    std::vector<int64_t> segment_bases() {
        std::vector<int64_t> out;
        for (const std::string& name : list_dir(fs, dir)) {
            if (name.size() == 24 && name.ends_with(".log")) out.push_back(std::stoll(name.substr(0, 20)));
        }
        return out;
    }

    SimFileSystem fs{11};
    const std::string dir = "/data/orders-0";
    LogLines lines;
    std::map<int64_t, std::string> model;  // base offset -> batch bytes
};

}  // namespace fjord::storage::testing
