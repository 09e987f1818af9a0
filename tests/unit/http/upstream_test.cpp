// The hub's data path over real loopback sockets: a front Beast server whose handler forwards
// through the UpstreamPool to an upstream (a Beast server, or a raw one that misbehaves on cue).

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility> (C++20).
#include <utility>  // NOLINT: must precede Boost.Asio

#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "http/upstream.h"
#include "support/test_http.h"
#include "support/wait.h"

using namespace waha;
using namespace waha::http;

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using RawRequest = bhttp::request<bhttp::string_body>;

// A blocking upstream, one thread per connection, that counts connections and answers each
// request through `behaviour` (which writes raw bytes and returns false to drop the connection).
class RawUpstream {
 public:
  using Behaviour = std::function<bool(tcp::socket&, const RawRequest&)>;
  explicit RawUpstream(Behaviour b)
      : behaviour_(std::move(b)), acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    acceptThread_ = std::thread([this] { acceptLoop(); });
  }
  ~RawUpstream() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    acceptThread_.join();
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& s : sockets_) {
      ::shutdown(s->native_handle(), SHUT_RDWR);
    }
    for (auto& t : threads_) {
      t.join();
    }
  }
  int port() const { return port_; }
  int connections() const { return connections_; }
  int hangups() const { return hangups_; }

  static bool answer(tcp::socket& s, const std::string& body, int status = 200) {
    std::string out = "HTTP/1.1 " + std::to_string(status) +
                      " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    beast::error_code ec;
    net::write(s, net::buffer(out), ec);
    return !ec;
  }

 private:
  void acceptLoop() {
    while (!stopping_) {
      auto s = std::make_shared<tcp::socket>(ioc_);
      beast::error_code ec;
      acceptor_.accept(*s, ec);
      if (ec || stopping_) {
        return;
      }
      ++connections_;
      std::lock_guard<std::mutex> lk(mu_);
      sockets_.push_back(s);
      threads_.emplace_back([this, s] { serve(*s); });
    }
  }
  void serve(tcp::socket& s) {
    beast::flat_buffer buf;
    for (;;) {
      RawRequest req;
      beast::error_code ec;
      bhttp::read(s, buf, req, ec);
      if (ec || !behaviour_(s, req)) {
        beast::error_code ignored;
        s.shutdown(tcp::socket::shutdown_both, ignored);
        ++hangups_;
        return;
      }
    }
  }

  Behaviour behaviour_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> hangups_{0};
  std::thread acceptThread_;
  std::mutex mu_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  std::vector<std::thread> threads_;
};

// Passes a client's body through, noting the size of every piece.
class CountingReader final : public BodyReader {
 public:
  CountingReader(std::shared_ptr<BodyReader> inner, std::atomic<std::size_t>& pieces,
                 std::atomic<std::size_t>& largest)
      : inner_(std::move(inner)), pieces_(pieces), largest_(largest) {}
  void read(PieceFn fn) override {
    inner_->read([this, fn = std::move(fn)](Result<std::string> piece, bool last) {
      if (piece.ok() && !piece->empty()) {
        ++pieces_;
        largest_ = std::max(largest_.load(), piece->size());
      }
      fn(std::move(piece), last);
    });
  }
  std::optional<std::size_t> contentLength() const override { return inner_->contentLength(); }

 private:
  std::shared_ptr<BodyReader> inner_;
  std::atomic<std::size_t>& pieces_;
  std::atomic<std::size_t>& largest_;
};

// The front server: forwards every request to `target` (the hub's job, minus routing).
struct Front {
  Front(UpstreamPool& pool, int upstreamPort, ServerOptions opts = {},
        std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : server(makeBeastServer(std::move(opts))) {
    UpstreamTarget target{"127.0.0.1", upstreamPort};
    REQUIRE(server
                ->start([&pool, target, timeout, this](Request& req, std::shared_ptr<Exchange> ex) {
                  UpstreamRequest up;
                  up.method = req.method;
                  up.target = req.target;
                  up.headers = req.headers;
                  up.body = std::move(req.body);
                  if (req.bodyReader) {
                    up.bodyReader =
                        std::make_shared<CountingReader>(req.bodyReader, pieces, largestPiece);
                  }
                  up.timeout = timeout;
                  ForwardHooks hooks;
                  hooks.onDone = [this, handlerThread =
                                            std::this_thread::get_id()](const ForwardResult& r) {
                    std::lock_guard<std::mutex> lk(mu);
                    done.push_back(r);
                    sameThread += handlerThread == std::this_thread::get_id() ? 1 : 0;
                  };
                  pool.forward(target, std::move(up), std::move(ex), std::move(hooks));
                })
                .ok());
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + path;
  }
  std::size_t doneCount() {
    std::lock_guard<std::mutex> lk(mu);
    return done.size();
  }
  std::unique_ptr<HttpServer> server;
  std::mutex mu;
  std::vector<ForwardResult> done;
  int sameThread = 0;  // forwards that finished on the thread their request was handled on
  std::atomic<std::size_t> pieces{0};
  std::atomic<std::size_t> largestPiece{0};
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>('a' + (i * 7 + i / 1000) % 26);
  }
  return s;
}

int closedPort() {
  net::io_context ioc;
  tcp::acceptor a(ioc, {net::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();  // closed again when `a` goes
}

}  // namespace

TEST_CASE("forward keeps method, target, headers, status and body both ways") {
  auto upstream = makeBeastServer({});
  REQUIRE(upstream
              ->start(syncHandler([](const Request& r) {
                Response res = Response::json(r.method == "POST" ? 201 : 200,
                                              r.method + " " + r.target + " " + r.body + " " +
                                                  r.header("x-api-key") + " " +
                                                  (r.headers.has("keep-alive") ? "ka" : "-"));
                res.headers.set("X-Waha-Worker", "w1");
                res.headers.set("Proxy-Thing", "hop");
                return res;
              }))
              .ok());
  auto pool = makeBeastUpstreamPool();
  Front front(*pool, upstream->port());

  auto get = test::httpGet(front.url("/api/x?session=a%20b"),
                           {{"X-Api-Key", "k1"}, {"Keep-Alive", "timeout=5"}});
  INFO(get.body);
  REQUIRE(get.status == 200);
  REQUIRE(get.body == "GET /api/x?session=a%20b  k1 -");
  REQUIRE(get.headers.getOr("x-waha-worker") == "w1");
  REQUIRE_FALSE(get.headers.has("proxy-thing"));

  auto post = test::httpRequest("POST", front.url("/api/sendText"), R"({"a":1})");
  REQUIRE(post.status == 201);
  REQUIRE(post.body == R"(POST /api/sendText {"a":1}  -)");
  REQUIRE(test::waitFor([&] { return front.doneCount() == 2; }));
  REQUIRE(front.done[0].status == 200);
  REQUIRE(front.done[0].upstreamOk);
  REQUIRE(front.done[1].status == 201);
  pool->stop();
  front.server->stop();
}

TEST_CASE("forward reuses one keep-alive connection for sequential requests") {
  RawUpstream upstream([](tcp::socket& s, const RawRequest& r) {
    return RawUpstream::answer(s, std::string(r.target()));
  });
  auto pool = makeBeastUpstreamPool();
  Front front(*pool, upstream.port());
  for (int i = 0; i < 20; ++i) {
    auto res = test::httpGet(front.url("/n/" + std::to_string(i)));
    REQUIRE(res.status == 200);
    REQUIRE(res.body == "/n/" + std::to_string(i));
  }
  REQUIRE(upstream.connections() == 1);
  pool->stop();
  front.server->stop();
}

TEST_CASE("forward serves concurrent requests, on its own threads or the server's") {
  auto upstream = makeBeastServer({});
  REQUIRE(
      upstream->start(syncHandler([](const Request& r) { return Response::text(200, r.target); }))
          .ok());
  // 1 and 2: the pool's own threads (one runs without strands); 0: a runtime shared with the
  // front server, where a forward never leaves the thread that handled its request.
  int threads = GENERATE(1, 2, 0);
  std::shared_ptr<IoRuntime> runtime = threads == 0 ? makeIoRuntime(2) : nullptr;
  UpstreamOptions options;
  options.threads = std::max(1, threads);
  options.runtime = runtime;
  ServerOptions frontOptions;
  frontOptions.runtime = runtime;
  auto pool = makeBeastUpstreamPool(options);
  Front front(*pool, upstream->port(), frontOptions);
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 10; ++i) {
        auto path = "/c" + std::to_string(c) + "/" + std::to_string(i);
        auto res = test::httpGet(front.url(path));
        if (res.status == 200 && res.body == path) {
          ++good;
        }
      }
    });
  }
  for (auto& t : clients) {
    t.join();
  }
  REQUIRE(good == 80);
  REQUIRE(test::waitFor([&] { return front.doneCount() == 80; }));
  if (runtime) {
    std::lock_guard<std::mutex> lk(front.mu);
    REQUIRE(front.sameThread == 80);
  }
  pool->stop();
  front.server->stop();
  if (runtime) {
    runtime->stop();
  }
}

TEST_CASE("stopping the pool cuts a forward in flight with a 502 instead of waiting it out") {
  std::atomic<int> received{0};
  RawUpstream upstream([&](tcp::socket&, const RawRequest&) {
    ++received;
    return true;  // never answers
  });
  auto runtime = makeIoRuntime(1);
  UpstreamOptions options;
  options.runtime = runtime;
  ServerOptions frontOptions;
  frontOptions.runtime = runtime;
  auto pool = makeBeastUpstreamPool(options);
  Front front(*pool, upstream.port(), frontOptions, std::chrono::seconds(60));
  test::HttpResult res;
  std::thread client([&] { res = test::httpGet(front.url("/hangs")); });
  REQUIRE(test::waitFor([&] { return received == 1; }));
  pool->stop();
  client.join();
  REQUIRE(res.status == 502);  // the 60 s timeout would have answered 504
  REQUIRE(front.doneCount() == 1);
  front.server->stop();
  runtime->stop();
}

TEST_CASE("an upstream that is down gives a WAHA-style 502") {
  auto pool = makeBeastUpstreamPool();
  Front front(*pool, closedPort());
  auto res = test::httpGet(front.url("/api/sessions"));
  REQUIRE(res.status == 502);
  REQUIRE(res.body.find(R"("statusCode":502)") != std::string::npos);
  REQUIRE(res.body.find(R"("error":"Bad Gateway")") != std::string::npos);
  REQUIRE(test::waitFor([&] { return front.doneCount() == 1; }));
  REQUIRE(front.done[0].status == 502);
  REQUIRE_FALSE(front.done[0].upstreamOk);
  REQUIRE_FALSE(front.done[0].error.empty());
  pool->stop();
  front.server->stop();
}

TEST_CASE("an upstream that hangs gives a 504 once the timeout passed") {
  RawUpstream upstream([](tcp::socket&, const RawRequest&) { return true; });
  auto pool = makeBeastUpstreamPool();
  Front front(*pool, upstream.port(), {}, std::chrono::milliseconds(300));
  auto res = test::httpGet(front.url("/slow"));
  REQUIRE(res.status == 504);
  REQUIRE(res.body.find(R"("error":"Gateway Timeout")") != std::string::npos);
  pool->stop();
  front.server->stop();
}

TEST_CASE("a multi-MB download streams back intact with its Content-Length") {
  const auto big = pattern(8 * 1024 * 1024);
  auto upstream = makeBeastServer({});
  REQUIRE(
      upstream->start(syncHandler([&](const Request&) { return Response::text(200, big); })).ok());
  auto pool = makeBeastUpstreamPool();
  Front front(*pool, upstream->port());
  for (int i = 0; i < 2; ++i) {  // twice: the streamed answer leaves both connections reusable
    auto res = test::httpGet(front.url("/api/files/x"));
    REQUIRE(res.status == 200);
    REQUIRE(res.headers.getOr("content-length") == std::to_string(big.size()));
    REQUIRE_FALSE(res.headers.has("transfer-encoding"));
    REQUIRE(res.body == big);
  }
  pool->stop();
  front.server->stop();
}

TEST_CASE("an upstream that closes mid-body cuts the client's connection") {
  RawUpstream upstream([](tcp::socket& s, const RawRequest&) {
    std::string out = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + pattern(300000);
    beast::error_code ec;
    net::write(s, net::buffer(out), ec);
    return false;
  });
  auto pool = makeBeastUpstreamPool();
  Front front(*pool, upstream.port());
  auto res = test::httpRequest("GET", front.url("/media"), "", {}, std::chrono::seconds(20));
  REQUIRE(res.status == 0);  // a truncated body, never a complete-looking one
  REQUIRE(test::waitFor([&] { return front.doneCount() == 1; }));
  REQUIRE_FALSE(front.done[0].error.empty());
  pool->stop();
  front.server->stop();
}

TEST_CASE("fetch reads a whole answer, or fails with code 0") {
  auto upstream = makeBeastServer({});
  REQUIRE(upstream
              ->start(syncHandler(
                  [](const Request& r) { return Response::json(200, "[" + r.body + "]"); }))
              .ok());
  auto pool = makeBeastUpstreamPool();
  std::mutex mu;
  std::vector<Result<Response>> results;
  auto collect = [&](Result<Response> r) {
    std::lock_guard<std::mutex> lk(mu);
    results.push_back(std::move(r));
  };
  UpstreamRequest req;
  req.method = "POST";
  req.target = "/api/sessions";
  req.body = R"({"name":"s"})";
  pool->fetch({"127.0.0.1", upstream->port()}, req, collect);
  REQUIRE(test::waitFor([&] {
    std::lock_guard<std::mutex> lk(mu);
    return results.size() == 1;
  }));
  REQUIRE(results[0].ok());
  REQUIRE(results[0]->status == 200);
  REQUIRE(results[0]->body == R"([{"name":"s"}])");
  REQUIRE(results[0]->headers.getOr("content-type") == "application/json");

  pool->fetch({"127.0.0.1", closedPort()}, req, collect);
  REQUIRE(test::waitFor([&] {
    std::lock_guard<std::mutex> lk(mu);
    return results.size() == 2;
  }));
  REQUIRE_FALSE(results[1].ok());
  REQUIRE(results[1].error().code == 0);
  pool->stop();
  upstream->stop();
}

TEST_CASE("a multi-MB upload is piped upstream piece by piece and arrives intact") {
  const auto big = pattern(8 * 1024 * 1024 + 3);
  std::atomic<std::size_t> seen{0};
  std::atomic<bool> intact{false};
  auto upstream = makeBeastServer({});
  REQUIRE(upstream
              ->start(syncHandler([&](const Request& r) {
                seen = r.body.size();
                intact = std::hash<std::string>{}(r.body) == std::hash<std::string>{}(big);
                return Response::json(201, R"({"ok":true})");
              }))
              .ok());
  auto pool = makeBeastUpstreamPool();
  ServerOptions opts;
  opts.streamBody = [](const Request& head) { return head.method == "POST"; };
  Front front(*pool, upstream->port(), opts);
  for (int i = 0; i < 2; ++i) {
    auto res = test::httpRequest("POST", front.url("/api/files"), big);
    REQUIRE(res.status == 201);
    REQUIRE(seen == big.size());
    REQUIRE(intact);
  }
  // A bodiless request of a streamed kind goes upstream without a body (no chunked GET).
  auto get = test::httpRequest("POST", front.url("/api/empty"));
  REQUIRE(get.status == 201);
  REQUIRE(seen == 0);
  REQUIRE(front.pieces > 2);
  REQUIRE(front.largestPiece <= 64 * 1024);
  REQUIRE(test::waitFor([&] { return front.doneCount() == 3; }));
  REQUIRE(front.done[1].status == 201);
  pool->stop();
  front.server->stop();
}

TEST_CASE("onDone runs exactly once per forward, with the status sent") {
  RawUpstream upstream([](tcp::socket& s, const RawRequest& r) {
    return RawUpstream::answer(s, "x", r.target() == "/missing" ? 404 : 200);
  });
  auto pool = makeBeastUpstreamPool();
  Front front(*pool, upstream.port());
  REQUIRE(test::httpGet(front.url("/a")).status == 200);
  REQUIRE(test::httpGet(front.url("/missing")).status == 404);
  REQUIRE(test::waitFor([&] { return front.doneCount() == 2; }));
  // Stopping ends every forward: nothing more can arrive after this.
  pool->stop();
  front.server->stop();
  REQUIRE(front.doneCount() == 2);
  REQUIRE(front.done[0].status == 200);
  REQUIRE(front.done[1].status == 404);
  REQUIRE(front.done[1].upstreamOk);
}

TEST_CASE("a pooled connection the upstream dropped is retried once, for idempotent methods only") {
  std::atomic<bool> dropNext{false};
  RawUpstream upstream([&](tcp::socket& s, const RawRequest& r) {
    if (dropNext.exchange(false)) {
      return false;  // reads the request, then hangs up without an answer
    }
    return RawUpstream::answer(s, std::string(r.method_string()) + " " + std::string(r.target()));
  });
  auto pool = makeBeastUpstreamPool();
  Front front(*pool, upstream.port());
  REQUIRE(test::httpGet(front.url("/1")).status == 200);
  dropNext = true;
  auto get = test::httpGet(front.url("/2"));
  REQUIRE(get.status == 200);
  REQUIRE(get.body == "GET /2");
  REQUIRE(upstream.connections() == 2);

  dropNext = true;
  auto post = test::httpRequest("POST", front.url("/send"), "{}");
  REQUIRE(post.status == 502);  // it may have run: never sent twice
  REQUIRE(test::httpRequest("POST", front.url("/send"), "{}").body == "POST /send");
  pool->stop();
  front.server->stop();
}

TEST_CASE("an idle connection the upstream closed is not reused, even for a POST") {
  // Answers, then closes the connection as a keep-alive timeout would.
  RawUpstream upstream([&](tcp::socket& s, const RawRequest& r) {
    RawUpstream::answer(s, std::string(r.method_string()) + " " + std::string(r.target()));
    return false;
  });
  UpstreamOptions options;
  options.trustedIdle = std::chrono::milliseconds(0);  // always checked
  auto pool = makeBeastUpstreamPool(options);
  Front front(*pool, upstream.port());
  REQUIRE(test::httpGet(front.url("/1")).body == "GET /1");
  REQUIRE(test::waitFor([&] { return upstream.hangups() == 1; }, std::chrono::seconds(5)));
  // A POST is never retried once written: only the check keeps it off the dead connection.
  auto post = test::httpRequest("POST", front.url("/send"), "{}");
  REQUIRE(post.status == 200);
  REQUIRE(post.body == "POST /send");
  REQUIRE(upstream.connections() == 2);
  pool->stop();
  front.server->stop();
}

TEST_CASE("a slow client holds the upstream back instead of the hub buffering the body") {
  constexpr std::size_t kTotal = 64 * 1024 * 1024;
  std::atomic<std::size_t> written{0};
  RawUpstream upstream([&](tcp::socket& s, const RawRequest&) {
    std::string head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kTotal) + "\r\n\r\n";
    beast::error_code ec;
    net::write(s, net::buffer(head), ec);
    const std::string chunk(64 * 1024, 'z');
    while (!ec && written < kTotal) {
      net::write(s, net::buffer(chunk), ec);
      if (!ec) {
        written += chunk.size();
      }
    }
    return !ec;
  });
  auto pool = makeBeastUpstreamPool();
  Front front(*pool, upstream.port());

  net::io_context ioc;
  beast::tcp_stream client(ioc);
  client.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"),
                               static_cast<unsigned short>(front.server->port())));
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, "/media/big", 11};
  req.set(bhttp::field::host, "x");
  bhttp::write(client, req);
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(kTotal);
  bhttp::read_header(client, buf, parser);
  REQUIRE(parser.get().result_int() == 200);

  // The client reads nothing more: the upstream's writes must stall well short of the total
  // (socket buffers plus the hub's bounded queue), not run to the end into the hub's memory.
  std::size_t last = 0;
  auto stableSince = std::chrono::steady_clock::now();
  REQUIRE(test::waitFor(
      [&] {
        auto now = std::chrono::steady_clock::now();
        if (written != last) {
          last = written;
          stableSince = now;
        }
        return last > 0 && now - stableSince > std::chrono::milliseconds(300);
      },
      std::chrono::seconds(20)));
  REQUIRE(written < kTotal / 2);

  // Reading again lets everything through.
  std::size_t got = 0;
  std::vector<char> piece(256 * 1024);
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    beast::error_code ec;
    bhttp::read_some(client, buf, parser, ec);
    if (ec && ec != bhttp::error::need_buffer) {
      break;
    }
    got += piece.size() - parser.get().body().size;
  }
  REQUIRE(got == kTotal);
  pool->stop();
  front.server->stop();
}
