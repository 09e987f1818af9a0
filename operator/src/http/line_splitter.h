#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace waha::http {

// Splits a byte stream that arrives in arbitrary chunks into '\n'-terminated lines (a watch body:
// one JSON event per line, and a chunk may end in the middle of one). A trailing '\r' is dropped;
// empty lines are skipped. Pure, so it is tested without any network.
class LineSplitter {
 public:
  // Feeds a chunk; calls `onLine` for every line it completes. Stops early (and returns false)
  // when `onLine` returns false; the rest of the chunk is then discarded.
  bool feed(std::string_view chunk, const std::function<bool(std::string line)>& onLine);
  // The bytes of an unfinished last line (a stream that ended without '\n').
  const std::string& pending() const { return partial_; }
  // Takes the unfinished line (empty if none).
  std::string takePending();
  // Refuses to buffer a single line beyond this size (a broken peer must not exhaust memory).
  void setMaxLineBytes(std::size_t n) { maxLine_ = n; }
  bool overflowed() const { return overflowed_; }

 private:
  std::string partial_;
  std::size_t maxLine_ = 64 * 1024 * 1024;
  bool overflowed_ = false;
};

}  // namespace waha::http
