#pragma once
// One entry of an open libzip archive, read whole with its CRC-32 checked. libzip compares the CRC only when a
// read reaches the entry's end, so one read past the last byte is made: a byte changed at the same file size is
// then an error, not trusted data. Shared by the torch-file reader and the per-record writers' resume check.
#include <zip.h>

#include <cstdint>
#include <optional>
#include <string>

namespace esm_onnx::io {

// The entry's bytes, or nullopt with `why` saying what is wrong ("is missing", "holds N bytes, more than the
// limit", "is corrupt: <libzip's reason>", "is truncated (read N of M bytes)").
std::optional<std::string> read_zip_entry(zip_t* archive, const std::string& name, uint64_t limit, std::string& why);

}  // namespace esm_onnx::io
