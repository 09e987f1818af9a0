#pragma once

// Internal to http/: one request forwarded upstream (UpstreamPool::forward, ::fetch). It runs on
// the executor of the connection it uses (the calling thread's loop on a shared IoRuntime): request
// side in forward_op.cpp (connect, send head and body, failures), answer side in forward_answer.cpp
// (head, whole or streamed body).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/upstream_conn.h"

namespace waha::http {

class ForwardOp : public std::enable_shared_from_this<ForwardOp> {
 public:
  static constexpr std::size_t kPieceBytes = 64 * 1024;
  // Answers up to this size (with a Content-Length) are read whole and answered in one go.
  static constexpr std::size_t kWholeBodyMax = 256 * 1024;
  static constexpr std::size_t kFetchBodyMax = 64 * 1024 * 1024;
  // Bytes queued towards a slow client before the upstream is read further.
  static constexpr std::size_t kClientQueueMax = 4 * kPieceBytes;

  using FetchDone = std::function<void(Result<Response>)>;
  ForwardOp(std::shared_ptr<ConnPool> pool, const UpstreamTarget& target, UpstreamRequest req,
            std::shared_ptr<Exchange> ex, ForwardHooks hooks, FetchDone fetchDone)
      : pool_(std::move(pool)),
        key_(target.host + ":" + std::to_string(target.port)),
        target_(target),
        req_(std::move(req)),
        exchange_(std::move(ex)),
        hooks_(std::move(hooks)),
        fetchDone_(std::move(fetchDone)) {
    pool_->opStarted();
  }

  ~ForwardOp();
  // Takes a pooled connection or opens one, then sends; returns at once. onDone follows later.
  void start();

 private:
  void buildRequest();
  // A pooled connection when one is idle (and `pooled` allows), else a new one.
  void acquire(bool pooled);
  void connect();
  void onConnect(beast::error_code ec);
  void writeRequest();
  // Pipes the client's body upstream one piece at a time: the next piece is asked for only once
  // the previous one was written, so memory stays bounded by one piece.
  void readBodyPiece();
  void onBodyPiece(Result<std::string> piece, bool last);
  void readHead();
  void onHead(beast::error_code ec);
  // Fast path: a small body is read whole and answered in one go.
  void readWhole();
  void complete(std::string body);
  void startStreaming();
  void readPiece();
  void onPiece(beast::error_code ec);
  void onIoError(beast::error_code ec, std::string_view what, bool nothingWritten);
  void fail(int status, std::string why);
  void release(bool keepAlive);
  void finish();

  std::shared_ptr<ConnPool> pool_;
  std::string key_;
  UpstreamTarget target_;
  UpstreamRequest req_;
  std::shared_ptr<Exchange> exchange_;
  ForwardHooks hooks_;
  FetchDone fetchDone_;
  std::shared_ptr<UpConn> conn_;
  std::optional<tcp::resolver> resolver_;
  std::string reqHead_;   // the request's head, as sent
  bool chunked_ = false;  // the request body goes chunked (a streamed body of unknown length)
  std::optional<bhttp::response_parser<bhttp::buffer_body>> head_;
  std::optional<bhttp::response_parser<bhttp::string_body>> whole_;
  std::shared_ptr<ResponseStream> clientStream_;
  std::string piece_;
  Headers headers_;
  int status_ = 0;
  ForwardResult result_;
  Clock::time_point sentAt_;
  bool reused_ = false;
  bool retried_ = false;
  bool bodyStarted_ = false;
  bool bodyDone_ = false;
  bool pendingLast_ = false;
  bool answered_ = false;
  bool done_ = false;
};

}  // namespace waha::http
