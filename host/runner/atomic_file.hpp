// Replacing a file so that readers see the old content or the new, never a
// part: the text goes to a temporary file in the same folder, is synced to
// disk, then renamed over the destination.
#pragma once

#include <filesystem>
#include <string_view>

namespace rtscope::runner {

// Writes `text` to `file` atomically. On failure (a full disk, a folder that
// cannot be written, ...) the destination is untouched, no temporary file
// is left, and rtscope::Error says in one line which file, what was being
// written (`what`, e.g. "JSON report") and why.
void write_file_atomically(const std::filesystem::path& file, std::string_view text,
                           std::string_view what);

}  // namespace rtscope::runner
