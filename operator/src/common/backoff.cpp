#include "common/backoff.h"

#include <algorithm>
#include <cmath>

namespace waha {

Duration Backoff::next() {
  double raw = static_cast<double>(base_.count()) * std::pow(factor_, attempt_);
  double capped = std::min(raw, static_cast<double>(max_.count()));
  double jittered = capped * (1.0 + jitter_ * random_.uniform());
  jittered = std::min(jittered, static_cast<double>(max_.count()));
  if (raw < static_cast<double>(max_.count())) {
    ++attempt_;
  }
  return Duration(static_cast<Duration::rep>(jittered));
}

}  // namespace waha
