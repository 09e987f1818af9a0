// QR/pairing, the test hooks under /_sim/ and the views (metrics, state) of the simulator.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "codec.h"
#include "common/log.h"
#include "simulator.h"

namespace waha::sim {
namespace {

nlohmann::json faultsJson(const Faults& f) {
  return {{"latencyMs", f.latencyMs},
          {"errorShare", f.errorShare},
          {"hang", f.hang},
          {"crashOnStop", f.crashOnStop},
          {"ignoreSigterm", f.ignoreSigterm},
          {"maxSessions", f.maxSessions}};
}

}  // namespace

std::optional<Reply> Simulator::requireStatus(const std::string& name,
                                              const std::vector<std::string>& expected) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = sessions_.find(name);
  if (it == sessions_.end() || it->second.status == "STOPPED") {
    return wahaError(404, "We didn't find a session with name '" + name +
                              "'. Please start it first by using POST /api/sessions/" + name +
                              "/start request");
  }
  for (const auto& e : expected) {
    if (it->second.status == e) {
      return std::nullopt;
    }
  }
  Reply r = Reply::json(422, {{"error",
                               "Session status is not as expected. Try again later or "
                               "restart the session"},
                              {"session", name},
                              {"status", it->second.status},
                              {"expected", expected}});
  r.statusMismatch = true;
  return r;
}

Reply Simulator::qr(const std::string& name, const std::string& format, bool wantJson) {
  if (auto err = requireStatus(name, {"SCAN_QR_CODE"})) {
    return *err;
  }
  std::string value;
  {
    std::lock_guard<std::mutex> lk(mu_);
    value = sessions_[name].qrValue;
  }
  if (format == "raw") {
    return Reply::json(200, {{"value", value}});
  }
  std::string png = makeQrPng(value);
  if (wantJson) {
    return Reply::json(200, {{"mimetype", "image/png"}, {"data", base64Encode(png)}});
  }
  Reply r;
  r.raw = std::move(png);
  r.contentType = "image/png";
  return r;
}

Reply Simulator::requestCode(const std::string& name, const nlohmann::json& body) {
  if (!body.is_object() || !body.contains("phoneNumber") || !body["phoneNumber"].is_string()) {
    return wahaError(400, "phoneNumber must be a string");
  }
  if (auto err = requireStatus(name, {"SCAN_QR_CODE"})) {
    return *err;
  }
  static const char* alphabet = "ABCDEFGHJKLMNPQRSTVWXYZ0123456789";
  std::string code;
  for (int i = 0; i < 8; ++i) {
    if (i == 4) {
      code.push_back('-');
    }
    code.push_back(alphabet[static_cast<std::size_t>(random_.uniform() * 33.0) % 33]);
  }
  return Reply::json(201, {{"code", code}});
}

Reply Simulator::pair(const std::string& name, const nlohmann::json& body) {
  std::lock_guard<std::mutex> lk(mu_);
  Session* s = findLocked(name);
  if (s == nullptr) {
    return wahaError(404, "Session not found");
  }
  if (!s->live()) {
    return Reply::json(
        422, {{"error", "session is not running"}, {"session", name}, {"status", s->status}});
  }
  nlohmann::json me = {{"id", body.value("id", "79111111111@c.us")},
                       {"pushName", body.value("pushName", name)}};
  ++s->gen;  // a pending STARTING timer must not overwrite the pairing
  s->me = me;
  s->qrValue.clear();
  setStatusLocked(*s, "WORKING");
  storage_.saveAuth(name, me);
  log::info("session paired", {{"session", name}, {"worker", cfg_.workerId}});
  return Reply::json(201, sessionJson(*s, true));
}

Reply Simulator::message(const std::string& name, const nlohmann::json& body) {
  if (!body.is_object() || !body.value("from", nlohmann::json()).is_string() ||
      !body.value("body", nlohmann::json()).is_string()) {
    return wahaError(400, "from and body must be strings");
  }
  std::lock_guard<std::mutex> lk(mu_);
  Session* s = findLocked(name);
  if (s == nullptr) {
    return wahaError(404, "Session not found");
  }
  if (s->status != "WORKING") {
    return Reply::json(
        422, {{"error", "session is not working"}, {"session", name}, {"status", s->status}});
  }
  std::string from = body["from"];
  std::string id;
  for (int i = 0; i < 20; ++i) {
    id.push_back("0123456789ABCDEF"[static_cast<std::size_t>(random_.uniform() * 16.0) % 16]);
  }
  // WAHA's message payload: ids are "<fromMe>_<chat>_<id>", the timestamp is in seconds.
  nlohmann::json payload = {{"id", "false_" + from + "_" + id},
                            {"timestamp", nowMs() / 1000},
                            {"from", from},
                            {"fromMe", false},
                            {"body", body["body"]},
                            {"hasMedia", false}};
  events_.publish(name, "message", payload, s->me ? *s->me : nlohmann::json(nullptr), nowMs());
  return Reply::json(201, payload);
}

void Simulator::restartInPlace() {
  std::lock_guard<std::mutex> lk(mu_);
  // A process restart: live sessions vanish without a clean stop (owner records stay as they
  // were, so the resume logic sees what a real restart would).
  for (auto& [name, s] : sessions_) {
    ++s.gen;
    registry_.release(name);
  }
  sessions_.clear();
  parked_.clear();
  startedAt_ = clock_.wallNow();
  startedMono_ = clock_.now();
  resumeLocked();
}

std::string Simulator::metricsText() {
  std::map<std::string, int> counts = {
      {"STOPPED", 0}, {"STARTING", 0}, {"SCAN_QR_CODE", 0}, {"WORKING", 0}, {"FAILED", 0}};
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (const auto& [name, s] : sessions_) {
      counts[s.status]++;
    }
  }
  std::string out =
      "# HELP waha_sessions Number of sessions by status and engine.\n"
      "# TYPE waha_sessions gauge\n";
  for (const auto& [status, n] : counts) {
    out += "waha_sessions{status=\"" + status + "\",engine=\"" + cfg_.engine + "\"} " +
           std::to_string(n) + "\n";
  }
  out +=
      "# HELP waha_http_requests_total HTTP requests received.\n"
      "# TYPE waha_http_requests_total counter\n"
      "waha_http_requests_total " +
      std::to_string(requests_.load()) + "\n";
  return out;
}

nlohmann::json Simulator::stateJson() {
  std::lock_guard<std::mutex> lk(mu_);
  nlohmann::json sessions = nlohmann::json::array();
  for (const auto& [name, s] : sessions_) {
    sessions.push_back(sessionJson(s, true));
  }
  return {{"worker", cfg_.workerId},       {"pid", static_cast<long>(::getpid())},
          {"store", storage_.dir()},       {"sessions", sessions},
          {"faults", faultsJson(faults_)}, {"hungCalls", parked_.size()}};
}

Reply Simulator::admin(const http::Request& req) {
  auto seg = splitPath(req.path);  // "_sim", ...
  nlohmann::json body =
      req.body.empty() ? nlohmann::json::object() : nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded()) {
    return wahaError(400, "body is not JSON");
  }
  if (req.method == "GET" && seg.size() == 2 && seg[1] == "state") {
    return Reply::json(200, stateJson());
  }
  if (seg.size() == 4 && seg[1] == "sessions" && seg[3] == "pair" && req.method == "POST") {
    return pair(seg[2], body);
  }
  if (seg.size() == 4 && seg[1] == "sessions" && seg[3] == "message" && req.method == "POST") {
    return message(seg[2], body);
  }
  if (seg.size() == 2 && seg[1] == "faults") {
    if (req.method == "POST") {
      Faults f = faults();
      f.latencyMs = body.value("latencyMs", f.latencyMs);
      f.errorShare = body.value("errorShare", f.errorShare);
      f.hang = body.value("hang", f.hang);
      f.crashOnStop = body.value("crashOnStop", f.crashOnStop);
      f.ignoreSigterm = body.value("ignoreSigterm", f.ignoreSigterm);
      f.maxSessions = body.value("maxSessions", f.maxSessions);
      if (f.errorShare < 0.0 || f.errorShare > 1.0 || f.latencyMs < 0 || f.maxSessions < 0) {
        return wahaError(400, "invalid fault values");
      }
      setFaults(f);
      if (f.hang.empty()) {
        std::lock_guard<std::mutex> lk(mu_);
        parked_.clear();  // hung calls get the 500 of a dropped exchange
      }
    }
    return Reply::json(200, faultsJson(faults()));
  }
  if (seg.size() == 2 && seg[1] == "crash" && req.method == "POST") {
    std::string how = body.value("mode", "kill");
    std::function<void(const std::string&)> crash;
    {
      std::lock_guard<std::mutex> lk(mu_);
      crash = crash_;
    }
    // Answer first so the caller knows the crash was ordered, then die.
    scheduler_.after(std::chrono::milliseconds(20), [crash, how] { crash(how); });
    return Reply::json(200, {{"crashing", true}, {"mode", how}});
  }
  if (seg.size() == 2 && seg[1] == "restart" && req.method == "POST") {
    restartInPlace();
    return Reply::json(200, stateJson());
  }
  if (seg.size() == 4 && seg[1] == "files" && req.method == "POST") {
    // Makes a deterministic file of `bytes` bytes to be served by /api/files/{session}/{file}.
    long long n = std::stoll(req.queryParam("bytes").value_or("0"));
    if (n < 0 || n > (1LL << 30) || !validSessionName(seg[2]) || !validSessionName(seg[3])) {
      return wahaError(400, "invalid file request");
    }
    std::string data(static_cast<std::size_t>(n), '\0');
    std::mt19937 gen(static_cast<unsigned>(n));
    for (auto& c : data) {
      c = static_cast<char>(gen() & 0xff);
    }
    std::filesystem::create_directories(storage_.dir() + "/files/" + seg[2]);
    std::ofstream(storage_.filePath(seg[2], seg[3]), std::ios::binary) << data;
    return Reply::json(201, {{"bytes", n},
                             {"sha256", sha256Hex(data)},
                             {"path", "/api/files/" + seg[2] + "/" + seg[3]}});
  }
  return wahaError(404, "Cannot " + req.method + " " + req.path);
}

}  // namespace waha::sim
