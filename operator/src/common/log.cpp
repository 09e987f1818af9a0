#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace waha::log {
namespace {

std::atomic<int> gLevel{static_cast<int>(Level::Info)};
std::atomic<bool> gJson{false};
std::atomic<void (*)(const std::string&)> gSink{nullptr};
std::mutex gWriteMu;

const char* levelName(Level l) {
  switch (l) {
    case Level::Debug:
      return "debug";
    case Level::Info:
      return "info";
    case Level::Warn:
      return "warn";
    case Level::Error:
      return "error";
  }
  return "info";
}

void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// key=value values are quoted when they hold spaces, quotes or '='.
void appendLogfmtValue(std::string& out, std::string_view v) {
  bool quote = v.empty() || v.find_first_of(" \"=\t\n") != std::string_view::npos;
  if (quote) {
    appendJsonString(out, v);
  } else {
    out += v;
  }
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::time_t tt = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

}  // namespace

void setLevel(Level l) { gLevel = static_cast<int>(l); }
Level level() { return static_cast<Level>(gLevel.load()); }
void setJson(bool json) { gJson = json; }
void setSink(void (*sink)(const std::string&)) { gSink = sink; }

bool parseLevel(std::string_view text, Level& out) {
  if (text == "debug") {
    out = Level::Debug;
  } else if (text == "info") {
    out = Level::Info;
  } else if (text == "warn" || text == "warning") {
    out = Level::Warn;
  } else if (text == "error") {
    out = Level::Error;
  } else {
    return false;
  }
  return true;
}

void write(Level l, std::string_view msg, std::initializer_list<Field> fields) {
  if (!enabled(l)) {
    return;
  }
  std::string line;
  line.reserve(128);
  if (gJson) {
    line += "{\"ts\":\"" + timestamp() + "\",\"level\":\"" + levelName(l) + "\",\"msg\":";
    appendJsonString(line, msg);
    for (const auto& [k, v] : fields) {
      line += ',';
      appendJsonString(line, k);
      line += ':';
      appendJsonString(line, v);
    }
    line += '}';
  } else {
    line += "ts=" + timestamp() + " level=" + levelName(l) + " msg=";
    appendLogfmtValue(line, msg);
    for (const auto& [k, v] : fields) {
      line += ' ';
      line += k;
      line += '=';
      appendLogfmtValue(line, v);
    }
  }
  auto sink = gSink.load();
  if (sink != nullptr) {
    sink(line);
    return;
  }
  line += '\n';
  std::lock_guard<std::mutex> lk(gWriteMu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

std::string redactUrl(std::string_view url) {
  // scheme://user:password@host/... -> scheme://user:***@host/...
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) {
    return std::string(url);
  }
  auto hostStart = scheme + 3;
  auto at = url.find('@', hostStart);
  auto slash = url.find('/', hostStart);
  if (at == std::string_view::npos || (slash != std::string_view::npos && at > slash)) {
    return std::string(url);
  }
  auto colon = url.find(':', hostStart);
  std::string out(url.substr(0, hostStart));
  if (colon != std::string_view::npos && colon < at) {
    out += url.substr(hostStart, colon - hostStart);
    out += ":***";
  } else {
    out += "***";
  }
  out += url.substr(at);
  return out;
}

}  // namespace waha::log
