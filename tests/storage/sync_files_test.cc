// FileSystem::sync_files: the POSIX version makes several files durable with
// one syncfs and still syncs a file it did not open itself.
#include <gtest/gtest.h>

#include "storage/posix_file_system.h"
#include "storage/sim_file_system.h"
#include "temp_dir.h"

namespace fjord::storage::testing {
namespace {

TEST(SyncFiles, PosixSyncsSeveralFilesTogetherAndReportsSuccess) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    PosixFileSystem fs;
    std::vector<std::shared_ptr<File>> files;
    for (const char* name : {"/a.log", "/b.log", "/c.log"}) {
        auto f = fs.open(tmp.path() + name, true);
        ASSERT_TRUE(f) << f.error().message();
        ASSERT_TRUE((*f)->append("some bytes"));
        files.push_back(*f);
    }
    auto synced = fs.sync_files(files);
    EXPECT_TRUE(synced) << synced.error().message();
    EXPECT_TRUE(fs.sync_files({}));
    EXPECT_TRUE(fs.sync_files({files[0]}));
}

// A file from another FileSystem has no descriptor syncfs could stand for: it
// is synced by its own sync(), and its failure is the call's failure.
TEST(SyncFiles, PosixSyncsAForeignFileItself) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    PosixFileSystem fs;
    SimFileSystem sim;
    ASSERT_TRUE(sim.create_dirs("/sim"));
    auto real = fs.open(tmp.path() + "/a.log", true);
    auto simulated = sim.open("/sim/b.log", true);
    ASSERT_TRUE(real && simulated);
    ASSERT_TRUE(sim.sync_dir("/sim"));
    ASSERT_TRUE((*real)->append("real bytes"));
    ASSERT_TRUE((*simulated)->append("simulated bytes"));
    ASSERT_TRUE(fs.sync_files({*real, *simulated}));
    sim.crash();
    auto reopened = sim.open("/sim/b.log", false);
    ASSERT_TRUE(reopened);
    EXPECT_EQ((*reopened)->size(), std::string("simulated bytes").size())
        << "the foreign file was not synced";

    ASSERT_TRUE((*reopened)->append(" and more"));
    sim.fail_next_syncs(1);
    auto failed = fs.sync_files({*real, *reopened});
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, EIO);
}

}  // namespace
}  // namespace fjord::storage::testing
