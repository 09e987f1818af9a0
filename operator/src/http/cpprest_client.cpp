// The only translation unit that includes cpprestsdk (slow to compile, archived upstream): the
// rest of the project sees http::HttpClient.
#include <utility>  // before Boost.Asio: Boost 1.74 + C++20 needs it first

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cpprest/http_client.h>
#include <atomic>
#include <boost/asio/ssl.hpp>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"
#include "http/client.h"
#include "http/line_splitter.h"

namespace waha::http {

namespace {

namespace wh = web::http;
namespace whc = web::http::client;

// Applied to every new TLS connection. With a CA given, only that CA is trusted (client-go
// replaces the system roots too): a cluster CA must not be widened to every public CA.
void configureTls(const ClientTls& tls, boost::asio::ssl::context& ctx) {
  if (!tls.caPem.empty()) {
    SSL_CTX_set_cert_store(ctx.native_handle(), X509_STORE_new());
    ctx.add_certificate_authority(boost::asio::buffer(tls.caPem));
  }
  if (!tls.clientCertPem.empty()) {
    ctx.use_certificate_chain(boost::asio::buffer(tls.clientCertPem));
    ctx.use_private_key(boost::asio::buffer(tls.clientKeyPem), boost::asio::ssl::context::pem);
  }
}

Error transportError(const std::exception& e, const std::string& url) {
  std::string what = e.what();
  const auto* he = dynamic_cast<const wh::http_exception*>(&e);
  bool timeout = (he != nullptr && he->error_code() == std::errc::timed_out) ||
                 what.find("timed out") != std::string::npos;
  return Error::make(0, timeout ? "Timeout" : "TransportError",
                     what + " (" + log::redactUrl(url) + ")", true);
}

wh::http_request toCpprest(const ClientRequest& req, const web::uri& uri) {
  wh::http_request msg(wh::method(req.method));
  msg.set_request_uri(uri.resource());
  std::string contentType;
  for (const auto& [name, value] : req.headers.all()) {
    if (iequals(name, "Content-Type")) {
      contentType = value;
      continue;
    }
    msg.headers().add(name, value);
  }
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    std::vector<unsigned char> bytes(req.body.begin(), req.body.end());
    msg.set_body(std::move(bytes));
    msg.headers().set_content_type(contentType.empty() ? "application/octet-stream" : contentType);
  }
  return msg;
}

// scheme://host[:port]: what one connection pool serves. IPv6 hosts keep their brackets.
std::string baseOf(const web::uri& uri) {
  std::string host = uri.host();
  if (host.find(':') != std::string::npos && host.front() != '[') {
    host = "[" + host + "]";
  }
  std::string base = uri.scheme() + "://" + host;
  if (uri.port() > 0) {
    base += ":" + std::to_string(uri.port());
  }
  return base;
}

Headers fromCpprest(const wh::http_headers& h) {
  Headers out;
  for (const auto& [name, value] : h) {
    out.add(name, value);
  }
  return out;
}

// State shared between a StreamHandle and its reader thread.
struct StreamState {
  std::atomic<bool> cancelled{false};
  pplx::cancellation_token_source cts;
  std::mutex mu;  // guards body_
  concurrency::streams::streambuf<uint8_t> body;
  std::thread::id reader;
};

class CpprestStream final : public StreamHandle {
 public:
  CpprestStream(std::shared_ptr<StreamState> state, std::thread thread)
      : state_(std::move(state)), thread_(std::move(thread)) {}
  ~CpprestStream() override { cancel(); }

  void cancel() override {
    state_->cancelled = true;
    state_->cts.cancel();
    {
      // Closing our read side wakes a reader blocked on the body; cpprest's writer then fails
      // its next write and drops the connection.
      std::lock_guard<std::mutex> lk(state_->mu);
      if (state_->body) {
        try {
          state_->body.close(std::ios_base::out).wait();
        } catch (const std::exception&) {
          // Already closed or failed: either way the reader is no longer blocked on it.
        }
      }
    }
    if (!thread_.joinable()) {
      return;
    }
    if (std::this_thread::get_id() == thread_.get_id()) {
      thread_.detach();  // called from a callback: the thread ends after it returns
    } else {
      thread_.join();
    }
  }

 private:
  std::shared_ptr<StreamState> state_;
  std::thread thread_;
};

class CpprestClient final : public HttpClient {
 public:
  explicit CpprestClient(ClientOptions options) : options_(std::move(options)) {}

  Result<Response> send(const ClientRequest& req) override {
    try {
      web::uri uri(req.url);
      auto client = clientFor(uri, req.timeout);
      wh::http_response resp = client->request(toCpprest(req, uri)).get();
      Response out;
      out.status = resp.status_code();
      out.headers = fromCpprest(resp.headers());
      std::vector<unsigned char> body = resp.extract_vector().get();
      out.body.assign(body.begin(), body.end());
      return out;
    } catch (const std::exception& e) {
      return transportError(e, req.url);
    }
  }

  std::unique_ptr<StreamHandle> stream(const ClientRequest& req, StreamCallbacks cb) override {
    auto state = std::make_shared<StreamState>();
    std::shared_ptr<whc::http_client> client;
    std::unique_ptr<web::uri> uri;
    try {
      uri = std::make_unique<web::uri>(req.url);
      // Not from the cache: a watch holds its connection for minutes anyway, and each watch
      // has its own (randomised) timeout, which would grow the cache without bound.
      client = makeClient(*uri, req.timeout);
    } catch (const std::exception& e) {
      Error err = transportError(e, req.url);
      std::thread t([cb, err] { cb.onDone(err); });
      return std::make_unique<CpprestStream>(state, std::move(t));
    }
    std::thread t([state, client, req, uri = std::move(uri), cb = std::move(cb)] {
      Status result = readStream(*state, *client, req, *uri, cb);
      if (!state->cancelled && cb.onDone) {
        cb.onDone(result);
      }
    });
    return std::make_unique<CpprestStream>(state, std::move(t));
  }

 private:
  static Status readStream(StreamState& st, whc::http_client& client, const ClientRequest& req,
                           const web::uri& uri, const StreamCallbacks& cb) {
    try {
      wh::http_response resp = client.request(toCpprest(req, uri), st.cts.get_token()).get();
      if (resp.status_code() < 200 || resp.status_code() > 299) {
        std::vector<unsigned char> body = resp.extract_vector().get();
        return Error::make(resp.status_code(), "", std::string(body.begin(), body.end()),
                           resp.status_code() == 429 || resp.status_code() >= 500);
      }
      {
        std::lock_guard<std::mutex> lk(st.mu);
        st.body = resp.body().streambuf();
        if (st.cancelled) {
          return Status{};
        }
      }
      return readLines(st, cb);
    } catch (const std::exception& e) {
      if (st.cancelled) {
        return Status{};
      }
      return transportError(e, req.url);
    }
  }

  // Blocks for at least one byte, then takes whatever else already arrived: a watch event must
  // be delivered as soon as its line is complete, not when a buffer fills.
  static Status readLines(StreamState& st, const StreamCallbacks& cb) {
    LineSplitter splitter;
    std::vector<uint8_t> buf(64 * 1024);
    auto onLine = [&](std::string line) { return !st.cancelled && cb.onLine(std::move(line)); };
    for (;;) {
      size_t n = st.body.getn(buf.data(), 1).get();
      if (n == 0) {
        break;
      }
      size_t avail = static_cast<size_t>(std::max<std::streamsize>(0, st.body.in_avail()));
      if (avail > 0) {
        n += st.body.getn(buf.data() + 1, std::min(avail, buf.size() - 1)).get();
      }
      if (st.cancelled) {
        return Status{};
      }
      if (!splitter.feed(std::string_view(reinterpret_cast<const char*>(buf.data()), n), onLine)) {
        if (splitter.overflowed()) {
          return Error::make(0, "LineTooLong", "stream line exceeds the size limit", true);
        }
        return Status{};
      }
    }
    std::string last = splitter.takePending();
    if (!last.empty() && !st.cancelled) {
      cb.onLine(std::move(last));
    }
    return Status{};
  }

  std::shared_ptr<whc::http_client> clientFor(const web::uri& uri,
                                              std::chrono::milliseconds timeout) {
    if (timeout.count() <= 0) {
      timeout = options_.timeout;
    }
    std::string key = baseOf(uri) + "|" + std::to_string(timeout.count());
    std::lock_guard<std::mutex> lk(mu_);
    auto it = clients_.find(key);
    if (it != clients_.end()) {
      return it->second;
    }
    auto client = makeClient(uri, timeout);
    clients_.emplace(key, client);
    return client;
  }

  std::shared_ptr<whc::http_client> makeClient(const web::uri& uri,
                                               std::chrono::milliseconds timeout) const {
    if (timeout.count() <= 0) {
      timeout = options_.timeout;
    }
    whc::http_client_config cfg;
    cfg.set_timeout(timeout);
    cfg.set_validate_certificates(!options_.tls.insecureSkipVerify);
    ClientTls tls = options_.tls;
    cfg.set_ssl_context_callback([tls](boost::asio::ssl::context& ctx) { configureTls(tls, ctx); });
    return std::make_shared<whc::http_client>(web::uri(baseOf(uri)), cfg);
  }

  ClientOptions options_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<whc::http_client>> clients_;
};

}  // namespace

Result<std::shared_ptr<HttpClient>> makeCpprestClient(ClientOptions options) {
  // Load the TLS material once now, so bad PEM fails at start-up instead of on every connection.
  try {
    boost::asio::ssl::context probe(boost::asio::ssl::context::tls_client);
    configureTls(options.tls, probe);
  } catch (const std::exception& e) {
    return Error::make(0, "InvalidTLS", std::string("cannot load TLS material: ") + e.what());
  }
  if (options.tls.clientCertPem.empty() != options.tls.clientKeyPem.empty()) {
    return Error::make(0, "InvalidTLS", "client certificate and key must be given together");
  }
  return std::shared_ptr<HttpClient>(std::make_shared<CpprestClient>(std::move(options)));
}

}  // namespace waha::http
