#pragma once

#include <mutex>
#include <random>

namespace waha {

// Randomness is passed in so tests can make jitter and tie-breaks deterministic.
class Random {
 public:
  virtual ~Random() = default;
  // Uniform in [0, 1).
  virtual double uniform() = 0;
};

class StdRandom final : public Random {
 public:
  explicit StdRandom(unsigned seed = std::random_device{}()) : gen_(seed) {}
  double uniform() override {
    std::lock_guard<std::mutex> lk(mu_);
    return dist_(gen_);
  }

 private:
  std::mutex mu_;
  std::mt19937_64 gen_;
  std::uniform_real_distribution<double> dist_{0.0, 1.0};
};

// Always the same value: for tests that want no jitter at all.
class FixedRandom final : public Random {
 public:
  explicit FixedRandom(double v = 0.0) : v_(v) {}
  double uniform() override { return v_; }

 private:
  double v_;
};

}  // namespace waha
