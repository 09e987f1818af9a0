#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace waha::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

// One field of a structured line. Values are strings; callers format numbers themselves
// (std::to_string) so the hot path stays free of streams.
using Field = std::pair<std::string_view, std::string>;

void setLevel(Level level);
Level level();
// Parses debug|info|warn|error; returns false for anything else.
bool parseLevel(std::string_view text, Level& out);
// Key=value text (default) or one JSON object per line.
void setJson(bool json);
// Redirects output (tests); nullptr restores stderr.
void setSink(void (*sink)(const std::string& line));

void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline bool enabled(Level l) { return static_cast<int>(l) >= static_cast<int>(level()); }
inline void debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (enabled(Level::Debug)) write(Level::Debug, msg, f);
}
inline void info(std::string_view msg, std::initializer_list<Field> f = {}) {
  write(Level::Info, msg, f);
}
inline void warn(std::string_view msg, std::initializer_list<Field> f = {}) {
  write(Level::Warn, msg, f);
}
inline void error(std::string_view msg, std::initializer_list<Field> f = {}) {
  write(Level::Error, msg, f);
}

// Secrets never reach logs: anything that may carry one (URLs with credentials, headers) goes
// through these first.
std::string redactUrl(std::string_view url);

}  // namespace waha::log
