#pragma once

// FakeWahaClient: an in-memory WAHA worker set for reconciler tests. Calls answer at once (on
// the caller's thread) from a map of sessions per endpoint, and are recorded.

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "waha/client.h"

namespace waha::test {

class FakeWahaClient final : public wahaapi::WahaClient {
 public:
  struct Call {
    std::string verb;  // list get create start stop update logout remove
    std::string baseUrl;
    std::string session;
    wahaapi::Json body;
  };

  // Sessions of the worker at `baseUrl`, by name, with their status.
  void setSession(const std::string& baseUrl, const std::string& name, const std::string& status);
  std::optional<std::string> status(const std::string& baseUrl, const std::string& name) const;
  // The next call of `verb` fails with `err`.
  void failNext(const std::string& verb, Error err);
  std::vector<Call> calls() const;

  void list(const wahaapi::Endpoint& ep,
            wahaapi::Callback<std::vector<wahaapi::SessionInfo>> cb) override;
  void get(const wahaapi::Endpoint& ep, const std::string& name,
           wahaapi::Callback<wahaapi::SessionInfo> cb) override;
  void create(const wahaapi::Endpoint& ep, const std::string& name, const wahaapi::Json& config,
              bool start, wahaapi::Callback<wahaapi::CreateOutcome> cb) override;
  void start(const wahaapi::Endpoint& ep, const std::string& name,
             wahaapi::Callback<void> cb) override;
  void stop(const wahaapi::Endpoint& ep, const std::string& name,
            wahaapi::Callback<void> cb) override;
  void update(const wahaapi::Endpoint& ep, const std::string& name, const wahaapi::Json& config,
              wahaapi::Callback<void> cb) override;
  void logout(const wahaapi::Endpoint& ep, const std::string& name,
              wahaapi::Callback<void> cb) override;
  void remove(const wahaapi::Endpoint& ep, const std::string& name,
              wahaapi::Callback<void> cb) override;

 private:
  std::optional<Error> record(const std::string& verb, const wahaapi::Endpoint& ep,
                              const std::string& session, wahaapi::Json body = nullptr);

  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, std::string>> sessions_;  // url -> name -> status
  std::map<std::string, Error> failures_;
  std::vector<Call> calls_;
};

}  // namespace waha::test
