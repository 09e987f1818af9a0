#pragma once

// The project's own small HTTP vocabulary. Every HTTP library (cpprestsdk, Boost.Beast) stays
// behind these types, so an adapter can be swapped without touching the code above http/.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace waha::http {

class BodyReader;

// Header fields; names compare case-insensitively, order and repeats are kept.
class Headers {
 public:
  void set(std::string name, std::string value);
  void add(std::string name, std::string value);
  void remove(std::string_view name);
  bool has(std::string_view name) const;
  std::optional<std::string> get(std::string_view name) const;
  std::string getOr(std::string_view name, std::string fallback = "") const;
  const std::vector<std::pair<std::string, std::string>>& all() const { return fields_; }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

bool iequals(std::string_view a, std::string_view b);

// Percent-decoding and -encoding for paths and query components.
std::string urlDecode(std::string_view s, bool plusIsSpace = false);
std::string urlEncode(std::string_view s);
// Parses "a=1&b=x%20y" into decoded pairs (repeats kept, in order).
std::vector<std::pair<std::string, std::string>> parseQuery(std::string_view query);

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target: path plus "?query"
  std::string path;    // percent-decoded path, no query
  std::string query;   // raw query string without '?'
  Headers headers;
  std::string body;
  // Set only for a request the server was told to stream (ServerOptions::streamBody).
  std::shared_ptr<BodyReader> bodyReader;
  std::string remoteAddress;  // peer IP as text
  std::string localAddress;   // IP the connection was accepted on

  // First value of a query parameter, decoded.
  std::optional<std::string> queryParam(std::string_view name) const;
  std::string header(std::string_view name) const { return headers.getOr(name); }
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  static Response json(int status, std::string body);
  static Response text(int status, std::string body);
};

const char* reasonPhrase(int status);

}  // namespace waha::http
