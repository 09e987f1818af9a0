#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "http/line_splitter.h"

using waha::http::LineSplitter;

namespace {

std::vector<std::string> splitAll(const std::vector<std::string>& chunks, LineSplitter& s) {
  std::vector<std::string> lines;
  for (const auto& c : chunks) {
    s.feed(c, [&](std::string line) {
      lines.push_back(std::move(line));
      return true;
    });
  }
  return lines;
}

}  // namespace

TEST_CASE("Lines are reassembled across chunk boundaries") {
  LineSplitter s;
  auto lines = splitAll({"{\"type\":\"ADD", "ED\"}\n{\"ty", "pe\":\"DELETED\"}\n"}, s);
  REQUIRE(lines == std::vector<std::string>{"{\"type\":\"ADDED\"}", "{\"type\":\"DELETED\"}"});
  REQUIRE(s.pending().empty());
}

TEST_CASE("Several lines in one chunk, CRLF and blank keep-alive lines") {
  LineSplitter s;
  auto lines = splitAll({"a\r\nb\n\n\r\nc\nd"}, s);
  REQUIRE(lines == std::vector<std::string>{"a", "b", "c"});
  REQUIRE(s.pending() == "d");
  REQUIRE(s.takePending() == "d");
  REQUIRE(s.pending().empty());
}

TEST_CASE("Every split point of a stream gives the same lines") {
  const std::string body = "{\"n\":1}\n{\"n\":22}\r\n\n{\"n\":333}\n";
  const std::vector<std::string> want{"{\"n\":1}", "{\"n\":22}", "{\"n\":333}"};
  for (size_t i = 0; i <= body.size(); ++i) {
    for (size_t j = i; j <= body.size(); ++j) {
      LineSplitter s;
      auto got = splitAll({body.substr(0, i), body.substr(i, j - i), body.substr(j)}, s);
      INFO("split at " << i << "," << j);
      REQUIRE(got == want);
    }
  }
}

TEST_CASE("A callback returning false stops the split") {
  LineSplitter s;
  int seen = 0;
  bool more = s.feed("a\nb\nc\n", [&](std::string) { return ++seen < 2; });
  REQUIRE_FALSE(more);
  REQUIRE(seen == 2);
}

TEST_CASE("A line beyond the size limit overflows instead of growing without bound") {
  LineSplitter s;
  s.setMaxLineBytes(8);
  int seen = 0;
  auto count = [&](std::string) {
    ++seen;
    return true;
  };
  REQUIRE(s.feed("short\n", count));
  REQUIRE(s.feed("12345", count));
  REQUIRE_FALSE(s.feed("67890", count));
  REQUIRE(s.overflowed());
  REQUIRE_FALSE(s.feed("\n", count));
  REQUIRE(seen == 1);
}
