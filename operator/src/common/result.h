#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace waha {

// Error travels above the adapters instead of exceptions (exceptions stop at http/, kube/, waha/).
// `code` is an HTTP-style status where one applies (0 for transport failures), `reason` a short
// machine-readable word (Kubernetes' Status.reason where the error came from the API server).
struct Error {
  int code = 0;
  std::string reason;
  std::string message;
  bool retryable = false;

  static Error make(int code, std::string reason, std::string message, bool retryable = false) {
    return Error{code, std::move(reason), std::move(message), retryable};
  }
  std::string str() const;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }
  T valueOr(T fallback) const { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *err_; }

 private:
  std::optional<Error> err_;
};

using Status = Result<void>;

}  // namespace waha
