// Errors of the storage layer, as values. Each carries what an operator needs
// to act: the partition directory or file, the offset, the system error.
#pragma once

#include <string>

#include "common/result.h"
#include "storage/file_system.h"

namespace fjord::storage {

enum class StorageErrc : uint8_t {
    no_space,      // the disk is full; nothing was written; retry when space returns
    io_error,      // a read or write failed
    fsync_failed,  // durability is unknown: the log takes no more writes (see PartitionLog)
    stopped,       // the log stopped taking writes after an fsync failure
    corrupt,       // a batch failed its checksum or framing
    bad_request,   // the caller broke the API contract (e.g. a non-contiguous offset)
    out_of_range,  // an offset outside [start, end)
};

struct StorageError {
    StorageErrc code;
    std::string detail;
};

template <typename T>
using StorageResult = Result<T, StorageError>;

inline Unexpected<StorageError> storage_error(StorageErrc code, std::string detail) {
    return make_unexpected(StorageError{code, std::move(detail)});
}

// A failed file-system call as a storage error: `no_space` for a full disk,
// `io_error` for anything else.
inline Unexpected<StorageError> io(const IoError& e) {
    return storage_error(e.no_space() ? StorageErrc::no_space : StorageErrc::io_error, e.message());
}

}  // namespace fjord::storage
