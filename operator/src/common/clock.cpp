#include "common/clock.h"

#include <cstdio>
#include <ctime>
#include <string>

namespace waha {

SteadyClock& SteadyClock::instance() {
  static SteadyClock clock;
  return clock;
}

WallTime ManualClock::wallNow() const {
  auto elapsed = now() - start_;
  return WallTime{} + wallOffset_ +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(elapsed);
}

bool ManualClock::waitUntil(std::unique_lock<std::mutex>& lk, std::condition_variable& cv,
                            TimePoint deadline, const std::function<bool()>& pred) {
  while (!pred()) {
    if (now() >= deadline) {
      return false;
    }
    cv.wait_for(lk, std::chrono::milliseconds(1));
  }
  return true;
}

std::string formatRfc3339(WallTime t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool parseRfc3339(const std::string& s, WallTime& out) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &consumed) !=
          6 ||
      consumed != 19) {
    return false;
  }
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
    }
  }
  int offsetSeconds = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) {
      return false;
    }
    offsetSeconds = (s[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
    return false;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  std::time_t tt = timegm(&tm);
  out = std::chrono::system_clock::from_time_t(tt - offsetSeconds);
  return true;
}

}  // namespace waha
