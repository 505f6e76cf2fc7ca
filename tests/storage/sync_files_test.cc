// FileSystem::sync_files: the POSIX version shares one syncfs among several
// files only where syncfs reports every error, and still syncs a file it did
// not open itself.
#include <gtest/gtest.h>

#include <cstdio>

#include "storage/posix_file_system.h"
#include "storage/sim_file_system.h"
#include "temp_dir.h"

namespace fjord::storage::testing {
namespace {

TEST(SyncFiles, PosixSharesSyncsOnlyWhereSyncfsReportsEveryError) {
    PosixFileSystem fs;
    auto refused = fs.share_syncs("/proc");
    ASSERT_FALSE(refused) << "syncfs was trusted on /proc";
    EXPECT_TRUE(refused.error().find("Linux 5.17") != std::string::npos ||
                refused.error().find("only trusted on ext4 and xfs") != std::string::npos)
        << refused.error();
}

// With shared syncs (where this machine's /tmp allows them) or without,
// several files are synced and the call reports success.
TEST(SyncFiles, PosixSyncsSeveralFilesTogetherAndReportsSuccess) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    PosixFileSystem fs;
    auto shared = fs.share_syncs(tmp.path());
    std::printf("shared syncs on %s: %s\n", tmp.path().c_str(), shared ? "yes" : shared.error().c_str());
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
    (void)fs.share_syncs(tmp.path());  // the foreign file is synced by itself either way
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
