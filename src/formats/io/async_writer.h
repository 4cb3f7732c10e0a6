#pragma once
// Writes outputs on a thread of their own, so that the next batch runs while the last one is written.
// At most `max_pending` batches wait; memory stays bounded by the batch size.
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "esm_onnx/formats/writer.h"

namespace esm_onnx {

class AsyncWriter {
 public:
  AsyncWriter(std::unique_ptr<OutputWriter> inner, std::size_t max_pending = 2);
  ~AsyncWriter();
  AsyncWriter(const AsyncWriter&) = delete;
  AsyncWriter& operator=(const AsyncWriter&) = delete;

  // Queues one batch of records; blocks while max_pending batches wait. Rethrows a write error.
  void push(std::vector<RecordOutput> batch);
  // Waits for everything queued, closes the inner writer, rethrows a write error.
  void close();

  // Forwarded to the inner writer, serialized with the writes (HDF5 is not thread-safe).
  bool exists(const std::string& label);
  std::string check_label(const std::string& label);

 private:
  void loop();
  void rethrow_locked();

  std::unique_ptr<OutputWriter> inner_;
  std::size_t max_pending_;
  std::mutex mu_;         // guards the queue, the flags and the error
  std::mutex io_mu_;      // held while the inner writer is used
  std::condition_variable cv_;
  std::deque<std::vector<RecordOutput>> queue_;
  bool stop_{false};
  bool busy_{false};
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace esm_onnx
