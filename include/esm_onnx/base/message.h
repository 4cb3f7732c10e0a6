#pragma once
// What a job tells its caller while it runs, typed: the CLI prints the text, Python turns a skipped record into a
// SkippedRecordWarning and a notice into a UserWarning, by the kind, never by the wording.
#include <functional>
#include <string>

namespace esm_onnx {

enum class MessageKind {
  Skipped,   // a record, row or protein left out (named, with the reason); the job goes on
  Notice,    // something the user should know: work redone, a slow graph, a model named twice
  Step,      // what is being done: "read X", "wrote Y" (the CLI prints it unless --quiet)
  Progress,  // a counted part of a long step done: "layer 3/33 written" (for progress displays)
};

struct Message {
  MessageKind kind{MessageKind::Notice};
  std::string text;
};

using MessageFn = std::function<void(const Message&)>;

// "skipped", "notice", "step", "progress": the kind's name where a binding hands it on.
inline const char* message_kind_name(MessageKind k) {
  switch (k) {
    case MessageKind::Skipped: return "skipped";
    case MessageKind::Notice: return "notice";
    case MessageKind::Step: return "step";
    case MessageKind::Progress: return "progress";
  }
  return "notice";
}

}  // namespace esm_onnx
