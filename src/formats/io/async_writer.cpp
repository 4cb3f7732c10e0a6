#include "formats/io/async_writer.h"

namespace esm_onnx {

AsyncWriter::AsyncWriter(std::unique_ptr<OutputWriter> inner, std::size_t max_pending)
    : inner_(std::move(inner)), max_pending_(max_pending), thread_([this] { loop(); }) {}

AsyncWriter::~AsyncWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AsyncWriter::loop() {
  for (;;) {
    std::vector<RecordOutput> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stop_ and nothing left
      batch = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    cv_.notify_all();
    try {
      std::lock_guard<std::mutex> io(io_mu_);
      for (const auto& r : batch) inner_->write(r);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
      queue_.clear();  // nothing after a failed write is written: the run stops
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_ = false;
    }
    cv_.notify_all();
  }
}

void AsyncWriter::rethrow_locked() {
  if (error_) std::rethrow_exception(error_);
}

void AsyncWriter::push(std::vector<RecordOutput> batch) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return error_ || queue_.size() < max_pending_; });
  rethrow_locked();
  queue_.push_back(std::move(batch));
  lock.unlock();
  cv_.notify_all();
}

void AsyncWriter::close() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return error_ || (queue_.empty() && !busy_); });
    rethrow_locked();
  }
  std::lock_guard<std::mutex> io(io_mu_);
  inner_->close();
}

bool AsyncWriter::exists(const std::string& label) {
  std::lock_guard<std::mutex> io(io_mu_);
  return inner_->exists(label);
}

std::string AsyncWriter::check_label(const std::string& label) {
  std::lock_guard<std::mutex> io(io_mu_);
  return inner_->check_label(label);
}

}  // namespace esm_onnx
