#pragma once
// Scratch files of several writers share an output folder (two runs, Ray workers): each process keeps its
// own under a name "<host>-<pid>[.<n>]", and a folder whose process is gone (same host, no such pid) is what a
// killed run left. Folders of other hosts are never judged: their processes cannot be checked from here.
#include <string>

namespace esm_onnx::io {

// "<host>-<pid>" of this process ('/' and '-' in the host name replaced).
std::string process_tag();
// Whether a name made from process_tag() (with any ".<n>" after it) belongs to a process of this host that
// no longer runs.
bool is_stale_tag(const std::string& name);

}  // namespace esm_onnx::io
