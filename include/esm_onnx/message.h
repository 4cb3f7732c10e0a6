#pragma once
// What a job tells its caller while it runs, typed: the CLI prints the text, Python turns a skipped record into a
// SkippedRecordWarning and a notice into a UserWarning, by the kind, never by the wording.
#include <functional>
#include <string>

namespace esm_onnx {

enum class MessageKind {
  Skipped,  // a record, row or protein left out (named, with the reason); the job goes on
  Notice,   // something the user should know: work redone, a slow graph, a model named twice
};

struct Message {
  MessageKind kind{MessageKind::Notice};
  std::string text;
};

using MessageFn = std::function<void(const Message&)>;

// "skipped" / "notice": the kind's name where a binding hands it on.
inline const char* message_kind_name(MessageKind k) { return k == MessageKind::Skipped ? "skipped" : "notice"; }

}  // namespace esm_onnx
