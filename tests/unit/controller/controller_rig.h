#pragma once

// What every reconciler unit test needs: the fakes, the caches (filled by hand: the informers'
// role) with the indexes the manager registers, and the Context over them.

#include <memory>

#include "controller/context.h"
#include "controller/views.h"
#include "controller/worker_sync.h"
#include "support/fake_kube_client.h"
#include "support/fake_waha_client.h"

namespace waha::test {

struct ControllerRig {
  FakeKubeClient kube;
  FakeWahaClient waha;
  ManualClock clock;
  FixedRandom random{0.5};
  kube::Store clusters, sessions, pods, secrets, deployments;
  controller::WorkerSync sync{waha, clock, random, {}};
  controller::Context ctx{
      kube, waha,   clock, controller::Caches{&clusters, &sessions, &pods, &secrets, &deployments},
      sync, nullptr};

  ControllerRig() {
    for (auto& [name, fn] : controller::sessionIndexes()) {
      sessions.addIndex(name, fn);
    }
    for (auto& [name, fn] : controller::podIndexes()) {
      pods.addIndex(name, fn);
    }
  }
  void add(kube::Store& s, const nlohmann::json& obj) {
    s.upsert(std::make_shared<const nlohmann::json>(obj));
  }
};

}  // namespace waha::test
