// http/wire: the message heads the server and the upstream pool write without Beast's fields.

#include <catch2/catch.hpp>

#include "http/wire.h"

using namespace waha::http;

namespace {

Headers fields(std::initializer_list<std::pair<const char*, const char*>> list) {
  Headers h;
  for (const auto& [k, v] : list) {
    h.add(k, v);
  }
  return h;
}

}  // namespace

TEST_CASE("a whole answer's head: framing set here, the handler's framing fields dropped") {
  Headers h = fields({{"Content-Type", "application/json"},
                      {"Content-Length", "999"},
                      {"Transfer-Encoding", "chunked"},
                      {"Connection", "upgrade"},
                      {"X-Waha-Worker", "w-1"}});
  CHECK(wire::responseHead(11, 200, h, 12, true) ==
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Waha-Worker: w-1\r\n"
        "Content-Length: 12\r\n\r\n");
  CHECK(wire::responseHead(11, 404, {}, 0, false) ==
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(wire::responseHead(10, 200, {}, 2, true) ==
        "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n");
  CHECK(wire::responseHead(10, 200, {}, 2, false) ==
        "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n");
  // No body, so no length, for 1xx, 204 and 304.
  CHECK(wire::responseHead(11, 204, {}, 0, true) == "HTTP/1.1 204 No Content\r\n\r\n");
  CHECK(wire::responseHead(11, 304, {}, 0, true) == "HTTP/1.1 304 Not Modified\r\n\r\n");
  // The answer to a HEAD keeps the length its handler declared.
  CHECK(wire::responseHead(11, 200, fields({{"Content-Length", "5120"}}), 0, true, true) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 5120\r\n\r\n");
  // A status a worker answers gets its standard reason phrase, an unregistered one none.
  CHECK(wire::responseHead(11, 451, {}, 0, true)
            .rfind("HTTP/1.1 451 Unavailable For Legal Reasons\r\n", 0) == 0);
  CHECK(wire::responseHead(11, 299, {}, 0, true).rfind("HTTP/1.1 299 \r\n", 0) == 0);
}

TEST_CASE("a field that would split the head is left out") {
  std::string out;
  CHECK_FALSE(wire::appendField(out, "X-Evil", "a\r\nSet-Cookie: x=1"));
  CHECK_FALSE(wire::appendField(out, "X-Evil", std::string("a\0b", 3)));
  CHECK_FALSE(wire::appendField(out, "Bad Name", "v"));
  CHECK_FALSE(wire::appendField(out, "Bad:Name", "v"));
  CHECK_FALSE(wire::appendField(out, "", "v"));
  CHECK(out.empty());
  CHECK(wire::appendField(out, "X-Ok", "a b\tc"));
  CHECK(out == "X-Ok: a b\tc\r\n");
  CHECK(wire::responseHead(11, 200, fields({{"X-Evil", "1\r\nX-Injected: yes"}}), 0, true)
            .find("Injected") == std::string::npos);
}

TEST_CASE("a request head for upstream: hop-by-hop fields dropped, Host and framing set") {
  Headers h = fields({{"Host", "hub.example:443"},
                      {"Connection", "keep-alive"},
                      {"Keep-Alive", "timeout=5"},
                      {"Proxy-Authorization", "Basic eA=="},
                      {"Expect", "100-continue"},
                      {"Content-Length", "77"},
                      {"X-Api-Key", "worker-key"}});
  CHECK(wire::requestHead("GET", "/api/s1/chats?limit=1", h, "10.0.0.1:3000", 0, false) ==
        "GET /api/s1/chats?limit=1 HTTP/1.1\r\nHost: hub.example:443\r\n"
        "X-Api-Key: worker-key\r\n\r\n");
  // No Host given: the upstream's address; an empty POST still says it has no body.
  CHECK(wire::requestHead("POST", "/api/sendText", {}, "10.0.0.1:3000", 0, false) ==
        "POST /api/sendText HTTP/1.1\r\nHost: 10.0.0.1:3000\r\nContent-Length: 0\r\n\r\n");
  CHECK(wire::requestHead("PUT", "/x", {}, "u:1", 12, false) ==
        "PUT /x HTTP/1.1\r\nHost: u:1\r\nContent-Length: 12\r\n\r\n");
  // A streamed body of unknown length goes chunked.
  CHECK(wire::requestHead("POST", "/f", {}, "u:1", std::nullopt, true) ==
        "POST /f HTTP/1.1\r\nHost: u:1\r\nTransfer-Encoding: chunked\r\n\r\n");
}

TEST_CASE("hop-by-hop field names") {
  for (const char* n : {"Connection", "keep-alive", "TRANSFER-ENCODING", "Upgrade", "te", "Trailer",
                        "Proxy-Authenticate", "proxy-connection"}) {
    CHECK(wire::isHopByHop(n));
  }
  for (const char* n : {"Content-Type", "X-Api-Key", "Host", "Content-Length", "Proxy"}) {
    CHECK_FALSE(wire::isHopByHop(n));
  }
}
