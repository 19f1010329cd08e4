#pragma once
// Capturing what a component logs in a test without racing the component's threads. Adding and
// removing a spdlog sink per test mutates the logger's sink list while server threads may still
// be logging (and a sink writing into a destroyed buffer crashed a test). Instead each logger gets
// one CaptureSink, installed on first use and never removed; captures attach and detach buffers
// under the sink's own mutex.

#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace kedge::test {

class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    // The logger's capture sink, added to it on first use.
    static std::shared_ptr<CaptureSink> of(const std::shared_ptr<spdlog::logger>& logger) {
        static std::mutex mu;
        static std::map<spdlog::logger*, std::shared_ptr<CaptureSink>> sinks;
        std::lock_guard lock(mu);
        auto& s = sinks[logger.get()];
        if (!s) {
            s = std::make_shared<CaptureSink>();
            logger->sinks().push_back(s);
        }
        return s;
    }
    void attach(const std::shared_ptr<std::string>& buffer) {
        std::lock_guard lock(mutex_);
        buffers_.push_back(buffer);
    }
    void detach(const std::shared_ptr<std::string>& buffer) {
        std::lock_guard lock(mutex_);
        buffers_.erase(std::remove(buffers_.begin(), buffers_.end(), buffer), buffers_.end());
    }
    std::string read(const std::shared_ptr<std::string>& buffer) {
        std::lock_guard lock(mutex_);
        return *buffer;
    }

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        if (buffers_.empty()) return;
        spdlog::memory_buf_t formatted;
        formatter_->format(msg, formatted);
        for (auto& b : buffers_) b->append(formatted.data(), formatted.size());
    }
    void flush_() override {}

  private:
    std::vector<std::shared_ptr<std::string>> buffers_;
};

// Collects what one logger writes while it is alive (at least at info level meanwhile).
class LoggerCapture {
  public:
    explicit LoggerCapture(std::shared_ptr<spdlog::logger> logger)
        : logger_(std::move(logger)), sink_(CaptureSink::of(logger_)),
          buffer_(std::make_shared<std::string>()), old_level_(logger_->level()) {
        sink_->attach(buffer_);
        if (old_level_ > spdlog::level::info) logger_->set_level(spdlog::level::info);
    }
    ~LoggerCapture() {
        sink_->detach(buffer_);
        logger_->set_level(old_level_);
    }
    LoggerCapture(const LoggerCapture&) = delete;
    LoggerCapture& operator=(const LoggerCapture&) = delete;

    std::string text() const { return sink_->read(buffer_); }

  private:
    std::shared_ptr<spdlog::logger> logger_;
    std::shared_ptr<CaptureSink> sink_;
    std::shared_ptr<std::string> buffer_;
    spdlog::level::level_enum old_level_;
};

}  // namespace kedge::test
