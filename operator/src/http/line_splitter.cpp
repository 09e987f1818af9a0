#include "http/line_splitter.h"

namespace waha::http {

namespace {

bool emit(std::string line, const std::function<bool(std::string line)>& onLine) {
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  if (line.empty()) {
    return true;
  }
  return onLine(std::move(line));
}

}  // namespace

bool LineSplitter::feed(std::string_view chunk,
                        const std::function<bool(std::string line)>& onLine) {
  if (overflowed_) {
    return false;
  }
  while (!chunk.empty()) {
    auto nl = chunk.find('\n');
    if (nl == std::string_view::npos) {
      if (partial_.size() + chunk.size() > maxLine_) {
        overflowed_ = true;
        partial_.clear();
        return false;
      }
      partial_.append(chunk);
      return true;
    }
    std::string line;
    if (partial_.empty()) {
      line.assign(chunk.substr(0, nl));
    } else {
      line = std::move(partial_);
      partial_.clear();
      line.append(chunk.substr(0, nl));
    }
    chunk.remove_prefix(nl + 1);
    if (!emit(std::move(line), onLine)) {
      return false;
    }
  }
  return true;
}

std::string LineSplitter::takePending() {
  std::string out = std::move(partial_);
  partial_.clear();
  if (!out.empty() && out.back() == '\r') {
    out.pop_back();
  }
  return out;
}

}  // namespace waha::http
