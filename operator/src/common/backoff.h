#pragma once

#include <chrono>

#include "common/clock.h"
#include "common/random.h"

namespace waha {

// Jittered exponential backoff (Envoy's JitteredExponentialBackOffStrategy, client-go's
// wait.Backoff): the n-th delay is min(max, base * factor^n), stretched by up to `jitter` of itself
// at random.
class Backoff {
 public:
  Backoff(Duration base, Duration max, Random& random, double factor = 2.0, double jitter = 1.0)
      : base_(base), max_(max), random_(random), factor_(factor), jitter_(jitter) {}

  Duration next();
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  Duration base_;
  Duration max_;
  Random& random_;
  double factor_;
  double jitter_;
  int attempt_ = 0;
};

}  // namespace waha
